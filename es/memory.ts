/**
 * The standalone search driver: an inverted index per text field in process
 * memory, ranked with BM25 (k1 = 1.2, b = 0.75, Lucene's idf), as
 * Elasticsearch ranks by default.
 *
 * @module
 */
import { closedDriverError, DriverError } from "../internal/errors.ts";
import {
  type BulkResult,
  type Doc,
  type DriverQuery,
  type FieldType,
  type FilterValue,
  type IndexedDoc,
  mergeMappings,
  type SearchDriver,
  type SearchResult,
} from "./types.ts";

/** BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** BM25's length normalization. */
export const BM25_B = 0.75;

/**
 * One term's BM25 score in one field of one document, as Lucene 8+ computes it (without the
 * constant `k1 + 1` factor older formulations carry, which changes no ranking).
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
  return idf * tf / (tf + BM25_K1 * (1 - BM25_B + BM25_B * length / averageLength));
}

interface Stored {
  readonly doc: Doc;
  readonly keys: Readonly<Record<string, FilterValue>>;
  /** Terms per text field. */
  readonly lengths: Map<string, number>;
  /** The distinct terms of each text field: what to take out of the postings on removal. */
  readonly terms: Map<string, Set<string>>;
}

/** One index's documents and postings. */
class MemoryIndex {
  mappings: Readonly<Record<string, FieldType>>;
  constructor(mappings: Readonly<Record<string, FieldType>>) {
    this.mappings = mappings;
  }
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
    for (const [field, terms] of stored.terms) {
      const byTerm = this.postings.get(field)!;
      for (const term of terms) {
        const ids = byTerm.get(term)!;
        ids.delete(id);
        if (ids.size === 0) byTerm.delete(term);
      }
    }
    this.docs.delete(id);
    return true;
  }

  add(indexed: IndexedDoc): void {
    this.remove(indexed.id);
    const lengths = new Map<string, number>();
    const distinct = new Map<string, Set<string>>();
    for (const [field, terms] of Object.entries(indexed.terms)) {
      if (terms.length === 0) continue;
      lengths.set(field, terms.length);
      distinct.set(field, new Set(terms));
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
      terms: distinct,
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

/** A UTF-16 code unit moved so that code units compare in code point order (ICU's fix-up). */
const fixUp = (unit: number): number =>
  unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;

/**
 * Compares strings by code point, as PostgreSQL's "C" collation and Elasticsearch do; `<` on
 * strings compares UTF-16 code units, which puts U+E000–U+FFFF after characters beyond U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixUp(x) - fixUp(y);
  }
  return a.length - b.length;
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
  const less = typeof a === "string" && typeof b === "string"
    ? compareCodePoints(a, b) < 0
    : Number(a) < Number(b);
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
  #closed = false;

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

  ensureIndex(index: string, mappings: Readonly<Record<string, FieldType>>): Promise<void> {
    try {
      const existing = this.#indexes.get(index);
      if (existing) existing.mappings = mergeMappings(index, existing.mappings, mappings);
      else this.#indexes.set(index, new MemoryIndex(mappings));
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
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
      return compareCodePoints(a.id, b.id);
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

  ping(): Promise<void> {
    return this.#closed ? Promise.reject(closedDriverError(this.name, "ping")) : Promise.resolve();
  }

  close(): Promise<void> {
    this.#closed = true;
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
