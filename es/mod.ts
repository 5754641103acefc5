/**
 * es: typed search indexes, as the Go kit's generic Elasticsearch index. Full
 * text ranked with BM25, CJK text split into bigrams (Chinese, Japanese and
 * Korean have no spaces), filters, ranges, sorting and paging. The memory
 * driver (the default) keeps an inverted index in the process; the SQL driver
 * (`sqlSearch`, on any db provider, PGlite included; `postgresSearch` opens one
 * from a URL) ranks the same way in SQL; the Elasticsearch driver
 * (`elasticsearchSearch`) hands both to Elasticsearch. With an OpenTelemetry SDK registered,
 * each call of an index is a client span (`search messages`) naming the index, never a
 * document or a query's values.
 *
 * @example Indexing and searching messages
 * ```ts
 * import { es } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * interface Message extends Record<string, unknown> {
 *   content: string;
 *   room: string;
 *   sentAt: string;
 * }
 * await using search = await es.create();
 * const messages = await search.index<Message>("messages", {
 *   content: "text",
 *   room: "keyword",
 *   sentAt: "date",
 * });
 * await messages.bulk([
 *   { op: "index", id: "m1", doc: { content: "今天天气很好", room: "r1", sentAt: "2026-11-01T08:00:00Z" } },
 *   { op: "index", id: "m2", doc: { content: "明天会下雨", room: "r1", sentAt: "2026-11-02T08:00:00Z" } },
 * ]);
 * const found = await messages.search({ text: "天气", filter: { room: "r1" } });
 * assert.deepEqual(found.hits.map((hit) => hit.id), ["m1"]);
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { ownKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { memorySearch } from "./memory.ts";
import { type Index, openIndex } from "./open_index.ts";
import type { Doc, Mappings, SearchDriver } from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { analyze } from "./analyze.ts";
export { memorySearch, MemorySearchStore } from "./memory.ts";
export type { MemorySearchOptions } from "./memory.ts";
export type { Index, ReadOptions, WriteOptions } from "./open_index.ts";
export { sqlSearch } from "./sql.ts";
export type { SqlSearchOptions } from "./sql.ts";
export { MappingConflictError } from "./types.ts";
export type {
  BulkItem,
  BulkResult,
  Doc,
  FieldType,
  FilterValue,
  Mappings,
  Range,
  SearchHit,
  SearchQuery,
  SearchResult,
} from "./types.ts";

/** Static settings of a search provider. */
export interface SearchConfig {
  /**
   * Namespace of the indexes on a shared backend, put before every index name (`im-task-`):
   * lowercase letters, digits, `_` and `-`, as index names allow. Required on any driver but
   * memory, so two services on one Elasticsearch or database never write each other's indexes;
   * `""` shares them on purpose. (Before this release the key was called `indexPrefix`.)
   * @default {"" on the memory driver; none (required) on the others}
   */
  readonly keyPrefix?: string;
}

/** Dependencies of a search provider. */
export interface CreateOptions {
  /** The backend; `memorySearch()` by default. The provider closes it. */
  readonly driver?: SearchDriver;
  /** Logger; `clog.namespace("es")` by default. */
  readonly logger?: Logger;
}

/** A search provider. */
export interface Search extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /**
   * Opens an index, creating it when missing.
   *
   * @param name Lowercase letters, digits, `_` and `-`, starting with a letter or digit.
   * @param mappings The indexed fields and their types.
   * @throws {TypeError} On a bad name or mapping.
   */
  index<T extends Doc>(name: string, mappings: Mappings<T>): Promise<Index<T>>;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Closes the driver. */
  close(): Promise<void>;
}

/**
 * The recommended configuration: no index prefix.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): SearchConfig {
  requireEnv("es", env);
  return {};
}

/**
 * Creates a search provider.
 *
 * @param config Index prefix; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default) and logger.
 * @returns The provider.
 * @throws {TypeError} On invalid config.
 */
export function create(
  config: SearchConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Search> {
  const driver = options.driver ?? memorySearch();
  let keyPrefix: string;
  try {
    checkConfig("search", config, ["keyPrefix"] satisfies (keyof SearchConfig)[], {
      hints: { indexPrefix: "it is called 'keyPrefix' now" },
    });
    keyPrefix = ownKeyPrefix("search", config.keyPrefix, driver.name, "im-task-");
    if (keyPrefix !== "" && !/^[a-z0-9][a-z0-9_-]*$/.test(keyPrefix)) {
      throw new TypeError(
        `Cannot create search as 'keyPrefix' must be empty or lowercase letters, digits, '_' and '-' (index names allow no more): current value is ${
          JSON.stringify(keyPrefix)
        }`,
      );
    }
  } catch (error) {
    return driver.close().catch(() => {}).then(() => Promise.reject(error));
  }

  const context = { driver, logger: options.logger ?? namespace("es"), keyPrefix };
  const open = <T extends Doc>(name: string, mappings: Mappings<T>): Promise<Index<T>> =>
    openIndex(context, name, mappings);

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => closed ??= driver.close();
  return Promise.resolve({
    driver: driver.name,
    index: open,
    ping: (options?: PingOptions) =>
      pingProvider("es", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  });
}
