/**
 * One typed index of a search provider: its name and mappings checked, the index ensured on the
 * driver, then each call's documents or query checked before the driver sees them.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { dbSystem } from "../db/trace.ts";
import { kitTracer } from "../internal/otel.ts";
import { underSignalOption } from "../internal/signal.ts";
import { bulkItems, indexedDoc } from "./document.ts";
import { checkMappings, indexName } from "./mappings.ts";
import { normalizeQuery } from "./query.ts";
import { type IndexOperation, indexSpan } from "./trace.ts";
import type {
  BulkItem,
  BulkResult,
  Doc,
  Mappings,
  SearchDriver,
  SearchQuery,
  SearchResult,
} from "./types.ts";
import { requireId } from "./values.ts";

/** Options of the calls that write. */
export interface WriteOptions {
  /**
   * Makes the writes visible to search before the call resolves (Elasticsearch refreshes
   * about once a second otherwise; the memory and PostgreSQL drivers are always immediate).
   * @default {false}
   */
  readonly refresh?: boolean;
  /** Ends the wait with the signal's reason; once aborted, nothing is sent. */
  readonly signal?: AbortSignal;
}

/** Options of the calls that read. */
export interface ReadOptions {
  /** Ends the wait with the signal's reason; once aborted, nothing is sent. */
  readonly signal?: AbortSignal;
}

/** One typed index. */
export interface Index<T extends Doc> {
  /** The index's full name (prefix included). */
  readonly name: string;
  /** Writes and deletes documents in one request, in order. */
  bulk(items: readonly BulkItem<T>[], options?: WriteOptions): Promise<BulkResult>;
  /** Writes (creates or replaces) one document. */
  put(id: string, doc: T, options?: WriteOptions): Promise<void>;
  /** One document by id, or undefined. */
  get(id: string, options?: ReadOptions): Promise<T | undefined>;
  /** Deletes one document; resolves to whether it existed. */
  delete(id: string, options?: WriteOptions): Promise<boolean>;
  /** Searches; see {@linkcode SearchQuery}. */
  search(query: SearchQuery<T>, options?: ReadOptions): Promise<SearchResult<T>>;
  /** Deletes the index and every document in it. */
  drop(options?: ReadOptions): Promise<void>;
}

/** What opening an index needs from its provider. */
export interface IndexContext {
  /** The provider's driver. */
  readonly driver: SearchDriver;
  /** The provider's logger. */
  readonly logger: Logger;
  /** Put before every index name. */
  readonly keyPrefix: string;
}

/**
 * Opens index `rawName` (after the key prefix), creating it on the driver when missing.
 *
 * @throws {TypeError} On a bad name or mapping.
 */
export async function openIndex<T extends Doc>(
  context: IndexContext,
  rawName: string,
  mappings: Mappings<T>,
): Promise<Index<T>> {
  const { driver, logger } = context;
  const name = indexName(context.keyPrefix, rawName);
  const types = checkMappings(name, mappings);
  await driver.ensureIndex(name, types);
  logger.debug("index open", { index: name, fields: Object.keys(types).length });

  const system = dbSystem(driver.name);
  // Each call is a client span `<operation> <index>` when an OpenTelemetry SDK is registered.
  const call = <R>(
    action: string,
    operation: IndexOperation,
    signal: unknown,
    run: () => Promise<R>,
  ): Promise<R> => {
    const tracer = kitTracer();
    if (tracer === undefined) return underSignalOption(`${action} '${name}'`, signal, run);
    return indexSpan(
      tracer,
      system,
      operation,
      name,
      () => underSignalOption(`${action} '${name}'`, signal, run),
    );
  };

  return {
    name,
    bulk: (given, options = {}) =>
      call("bulk-write to", "bulk", options.signal, async () => {
        const checked = bulkItems(name, types, given);
        if (checked.length === 0) return { indexed: 0, deleted: 0 };
        return await driver.bulk(name, checked, options.refresh === true);
      }),
    put: (id, doc, options = {}) =>
      call("index a document in", "index", options.signal, async () => {
        const one = indexedDoc(name, types, requireId("index a document", id), doc);
        await driver.bulk(name, [{ op: "index", doc: one }], options.refresh === true);
      }),
    get: (id, options = {}) =>
      call(
        "get a document from",
        "get",
        options.signal,
        async () => await driver.get(name, requireId("get a document", id)) as T | undefined,
      ),
    delete: (id, options = {}) =>
      call("delete a document from", "delete", options.signal, async () => {
        const result = await driver.bulk(
          name,
          [{ op: "delete", id: requireId("delete a document", id) }],
          options.refresh === true,
        );
        return result.deleted === 1;
      }),
    search: (query, options = {}) =>
      call(
        "search",
        "search",
        options.signal,
        async () =>
          await driver.search(name, types, normalizeQuery(name, types, query)) as SearchResult<T>,
      ),
    drop: (options = {}) =>
      call("drop", "indices.delete", options.signal, () => driver.dropIndex(name)),
  };
}
