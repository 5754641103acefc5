/**
 * The standalone search driver: an inverted index per text field in process
 * memory, ranked with BM25 (k1 = 1.2, b = 0.75, Lucene's idf), as
 * Elasticsearch ranks by default.
 *
 * @module
 */
import { DriverError } from "../internal/errors.ts";
import type {
  BulkResult,
  Doc,
  DriverQuery,
  FieldType,
  FilterValue,
  IndexedDoc,
  SearchDriver,
  SearchResult,
} from "./types.ts";

/** BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25's length normalization. */
export const BM25_B = 0.75;

/**
 * One term's BM25 score in one field of one document.
 *
 * @param tf Occurrences of the term in the field.
 * @param length Terms in the field.
 * @param docs Documents with the field.
 * @param docsWithTerm Of them, documents with the term.
 * @param averageLength Average terms in the field over those documents.
 * @returns The score.
 */
export function bm25(
  tf: number,
  length: number,
  docs: number,
  docsWithTerm: number,
  averageLength: number,
): number {
  const idf = Math.log(1 + (docs - docsWithTerm + 0.5) / (docsWithTerm + 0.5));
  return idf * tf * (BM25_K1 + 1) /
    (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / averageLength));
}

interface Stored {
  readonly doc: Doc;
  readonly keys: Readonly<Record<string, FilterValue>>;
  /** Terms per text field. */
  readonly lengths: Map<string, number>;
}

/** One index's documents and postings. */
class MemoryIndex {
  readonly docs = new Map<string, Stored>();
  /** field → term → id → occurrences. */
  readonly postings = new Map<string, Map<string, Map<string, number>>>();
  /** field → documents with it and their total length. */
  readonly fields = new Map<string, { docs: number; length: number }>();

  remove(id: string): boolean {
    const stored = this.docs.get(id);
    if (stored === undefined) return false;
    for (const [field, length] of stored.lengths) {
      const stats = this.fields.get(field)!;
      stats.docs--;
      stats.length -= length;
    }
    for (const terms of this.postings.values()) {
      for (const [term, ids] of terms) {
        if (ids.delete(id) && ids.size === 0) terms.delete(term);
      }
    }
    this.docs.delete(id);
    return true;
  }

  add(indexed: IndexedDoc): void {
    this.remove(indexed.id);
    const lengths = new Map<string, number>();
    for (const [field, terms] of Object.entries(indexed.terms)) {
      if (terms.length === 0) continue;
      lengths.set(field, terms.length);
      let stats = this.fields.get(field);
      if (stats === undefined) this.fields.set(field, stats = { docs: 0, length: 0 });
      stats.docs++;
      stats.length += terms.length;
      let byTerm = this.postings.get(field);
      if (byTerm === undefined) this.postings.set(field, byTerm = new Map());
      for (const term of terms) {
        let ids = byTerm.get(term);
        if (ids === undefined) byTerm.set(term, ids = new Map());
        ids.set(indexed.id, (ids.get(indexed.id) ?? 0) + 1);
      }
    }
    this.docs.set(indexed.id, {
      doc: structuredClone(indexed.doc),
      keys: indexed.keys,
      lengths,
    });
  }
}

/** Whether a stored document passes a query's filters and ranges. */
function passes(keys: Readonly<Record<string, FilterValue>>, query: DriverQuery): boolean {
  for (const { field, values } of query.filters) {
    if (!values.includes(keys[field])) return false;
  }
  for (const range of query.ranges) {
    const value = keys[range.field];
    if (typeof value !== "number") return false;
    if (range.gte !== undefined && !(value >= range.gte)) return false;
    if (range.gt !== undefined && !(value > range.gt)) return false;
    if (range.lte !== undefined && !(value <= range.lte)) return false;
    if (range.lt !== undefined && !(value < range.lt)) return false;
  }
  return true;
}

/**
 * Compares two sort values: numbers and booleans by value, strings by code point; a missing
 * value sorts last whatever the order, as in Elasticsearch.
 */
function compareKeys(
  a: FilterValue | undefined,
  b: FilterValue | undefined,
  order: "asc" | "desc",
): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const less = typeof a === "string" && typeof b === "string" ? a < b : Number(a) < Number(b);
  return (less ? -1 : 1) * (order === "asc" ? 1 : -1);
}

/**
 * Indexes held in memory, to share between drivers: two providers on one store see the same
 * documents, as two instances on one Elasticsearch cluster would.
 */
export class MemorySearchStore {
  /** Creates an empty store. */
  constructor() {
    storeIndexes.set(this, new Map());
  }
}

/** Each store's indexes, out of its public shape. */
const storeIndexes = new WeakMap<MemorySearchStore, Map<string, MemoryIndex>>();

/** Options of {@linkcode memorySearch}. */
export interface MemorySearchOptions {
  /** The store to use; a new one by default. */
  readonly store?: MemorySearchStore;
}

class MemorySearch implements SearchDriver {
  readonly name = "memory";
  readonly #indexes: Map<string, MemoryIndex>;

  constructor(store: MemorySearchStore) {
    this.#indexes = storeIndexes.get(store)!;
  }

  #index(name: string, operation: string): MemoryIndex {
    const index = this.#indexes.get(name);
    if (index === undefined) {
      throw new DriverError(this.name, operation, new Error(`index '${name}' does not exist`));
    }
    return index;
  }

  ensureIndex(index: string, _mappings: Readonly<Record<string, FieldType>>): Promise<void> {
    if (!this.#indexes.has(index)) this.#indexes.set(index, new MemoryIndex());
    return Promise.resolve();
  }

  bulk(
    name: string,
    items: readonly ({ op: "index"; doc: IndexedDoc } | { op: "delete"; id: string })[],
  ): Promise<BulkResult> {
    let index: MemoryIndex;
    try {
      index = this.#index(name, "bulk");
    } catch (error) {
      return Promise.reject(error);
    }
    let indexed = 0;
    let deleted = 0;
    for (const item of items) {
      if (item.op === "index") {
        index.add(item.doc);
        indexed++;
      } else if (index.remove(item.id)) deleted++;
    }
    return Promise.resolve({ indexed, deleted });
  }

  get(name: string, id: string): Promise<Doc | undefined> {
    try {
      const stored = this.#index(name, "get").docs.get(id);
      return Promise.resolve(stored && structuredClone(stored.doc));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  search(
    name: string,
    _mappings: Readonly<Record<string, FieldType>>,
    query: DriverQuery,
  ): Promise<SearchResult<Doc>> {
    let index: MemoryIndex;
    try {
      index = this.#index(name, "search");
    } catch (error) {
      return Promise.reject(error);
    }
    const scores = new Map<string, number>();
    if (query.terms.length === 0) {
      for (const id of index.docs.keys()) scores.set(id, 0);
    } else {
      for (const field of query.fields) {
        const byTerm = index.postings.get(field);
        const stats = index.fields.get(field);
        if (byTerm === undefined || stats === undefined || stats.docs === 0) continue;
        const averageLength = stats.length / stats.docs;
        const inField = new Map<string, { score: number; matched: number }>();
        for (const term of query.terms) {
          const ids = byTerm.get(term);
          if (ids === undefined) continue;
          for (const [id, tf] of ids) {
            const length = index.docs.get(id)!.lengths.get(field)!;
            const score = bm25(tf, length, stats.docs, ids.size, averageLength);
            const entry = inField.get(id);
            if (entry) {
              entry.score += score;
              entry.matched++;
            } else inField.set(id, { score, matched: 1 });
          }
        }
        for (const [id, { score, matched }] of inField) {
          if (query.operator === "and" && matched < query.terms.length) continue;
          if (score > (scores.get(id) ?? -1)) scores.set(id, score); // the best field counts
        }
      }
    }
    const hits: { id: string; score: number; stored: Stored }[] = [];
    for (const [id, score] of scores) {
      const stored = index.docs.get(id)!;
      if (passes(stored.keys, query)) hits.push({ id, score, stored });
    }
    hits.sort((a, b) => {
      for (const { field, order } of query.sort) {
        const by = compareKeys(a.stored.keys[field], b.stored.keys[field], order);
        if (by !== 0) return by;
      }
      if (query.sort.length === 0 && a.score !== b.score) return b.score - a.score;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
    return Promise.resolve({
      total: hits.length,
      hits: hits.slice(query.from, query.from + query.size).map(({ id, score, stored }) => ({
        id,
        score,
        doc: structuredClone(stored.doc),
      })),
    });
  }

  dropIndex(index: string): Promise<void> {
    this.#indexes.delete(index);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Creates the memory search driver, the standalone default.
 *
 * @param options A store to share with other drivers.
 * @returns The driver.
 */
export function memorySearch(options: MemorySearchOptions = {}): SearchDriver {
  return new MemorySearch(options.store ?? new MemorySearchStore());
}
