/**
 * The standalone search driver: an inverted index per text field in process
 * memory, ranked with BM25 (k1 = 1.2, b = 0.75, Lucene's idf), as
 * Elasticsearch ranks by default. OR queries ranked by score take the top-k
 * path (`top_k.ts`, MaxScore); the others score every match (`exhaustive.ts`).
 *
 * @module
 */
import { closedDriverError, DriverError } from "../internal/errors.ts";
import { searchExhaustive } from "./exhaustive.ts";
import { MemoryIndex } from "./memory_index.ts";
import { searchTopK } from "./top_k.ts";
import {
  type BulkResult,
  type Doc,
  type DriverQuery,
  type FieldType,
  type IndexedDoc,
  mergeMappings,
  type SearchDriver,
  type SearchResult,
} from "./types.ts";

export { bm25, BM25_B, BM25_K1 } from "./bm25.ts";
export { compareCodePoints } from "./order.ts";

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
      const stored = this.#index(name, "get").get(id);
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
    const page = searchTopK(index, query) ?? searchExhaustive(index, query);
    return Promise.resolve({
      total: page.total,
      hits: page.hits.map(({ slot, score }) => {
        const stored = index.slots[slot]!;
        return { id: stored.id, score, doc: structuredClone(stored.doc) };
      }),
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
