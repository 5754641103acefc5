/**
 * es: typed search indexes, as the Go kit's generic Elasticsearch index. Full
 * text ranked with BM25, CJK text split into bigrams (Chinese, Japanese and
 * Korean have no spaces), filters, ranges, sorting and paging. The memory
 * driver (the default) keeps an inverted index in the process; the PostgreSQL
 * driver (`postgresSearch`) ranks the same way in SQL; the Elasticsearch
 * driver (`elasticsearchSearch`) hands both to Elasticsearch.
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
import { malformedText } from "../internal/text.ts";
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { ownKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import { encodeJson } from "../internal/json.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { underSignalOption } from "../internal/queue.ts";
import { analyze } from "./analyze.ts";
import { memorySearch } from "./memory.ts";
import type {
  BulkItem,
  BulkResult,
  Doc,
  DriverQuery,
  FieldType,
  FilterValue,
  IndexedDoc,
  Mappings,
  SearchDriver,
  SearchQuery,
  SearchResult,
} from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { analyze } from "./analyze.ts";
export { bm25, BM25_B, BM25_K1, memorySearch, MemorySearchStore } from "./memory.ts";
export type { MemorySearchOptions } from "./memory.ts";
export * from "./types.ts";

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

const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const FIELD_TYPES: readonly FieldType[] = ["text", "keyword", "number", "boolean", "date"];
const MAX_WINDOW = 10_000;

const utf8 = new TextEncoder();

function requireId(action: string, id: unknown): string {
  // 512 bytes of UTF-8 is Elasticsearch's limit on _id.
  if (
    typeof id !== "string" || id.length === 0 || id.length > 512 ||
    (id.length > 170 && utf8.encode(id).length > 512)
  ) {
    throw new TypeError(
      `Cannot ${action} as 'id' must be a string of 1 to 512 bytes (UTF-8): current value is ${
        JSON.stringify(typeof id === "string" && id.length > 80 ? `${id.slice(0, 80)}…` : id)
      }`,
    );
  }
  const malformed = malformedText(action, "id", id);
  if (malformed) throw malformed;
  return id;
}

/** ISO-8601 as Elasticsearch's `strict_date_optional_time` reads it; no offset is UTC. */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A date field's value as epoch ms: strict ISO-8601 text (UTC unless it says) or epoch ms. */
function dateValue(what: string, value: unknown): number {
  let ms = NaN;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const m = ISO_DATE.exec(value);
    if (m) {
      const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone = "Z"] = m;
      const offsetHours = zone === "Z" ? 0 : Number(zone.slice(1, 3));
      const offsetMinutes = zone === "Z" ? 0 : Number(zone.slice(zone.length - 2));
      // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
      const date = new Date(0);
      date.setUTCFullYear(+y, +mo - 1, +d);
      date.setUTCHours(+h, +mi, +s, Number(fraction.padEnd(3, "0").slice(0, 3)));
      // A date that does not exist (2026-02-30 rolls over into March) or an offset beyond what
      // Elasticsearch takes (±18:00) is refused.
      if (
        date.getUTCFullYear() === +y && date.getUTCMonth() === +mo - 1 &&
        date.getUTCDate() === +d && +h < 24 && +mi < 60 && +s < 60 && offsetHours <= 18 &&
        offsetMinutes < 60
      ) {
        const sign = zone[0] === "-" ? -1 : 1;
        ms = date.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
      }
    }
  }
  if (!Number.isFinite(ms)) {
    throw new TypeError(
      `Cannot ${what} as it must be an ISO-8601 date or epoch milliseconds: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return ms;
}

/** A filter value checked against its field's type (dates to epoch ms). */
function keyValue(what: string, type: FieldType, value: unknown): FilterValue {
  if (type === "date") return dateValue(what, value);
  const ok = type === "keyword"
    ? typeof value === "string"
    : type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === "boolean";
  if (!ok) {
    throw new TypeError(
      `Cannot ${what} as a ${type} field takes a ${
        type === "keyword" ? "string" : type === "number" ? "finite number" : "boolean"
      }: current value is ${JSON.stringify(value)}`,
    );
  }
  return value as FilterValue;
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
  const logger = options.logger ?? namespace("es");

  const open = async <T extends Doc>(rawName: string, mappings: Mappings<T>): Promise<Index<T>> => {
    if (typeof rawName !== "string" || !INDEX_NAME.test(keyPrefix + rawName)) {
      throw new TypeError(
        `Cannot open index as its name must be lowercase letters, digits, '_' and '-', starting with a letter or digit: current value is ${
          JSON.stringify(rawName)
        }`,
      );
    }
    const name = keyPrefix + rawName;
    if (mappings === null || typeof mappings !== "object" || Array.isArray(mappings)) {
      throw new TypeError(
        `Cannot open index '${name}' as 'mappings' must be an object of field types`,
      );
    }
    const types: Record<string, FieldType> = {};
    for (const [field, type] of Object.entries(mappings)) {
      if (!FIELD_NAME.test(field)) {
        throw new TypeError(
          `Cannot open index '${name}' as field name ${
            JSON.stringify(field)
          } must match [A-Za-z_][A-Za-z0-9_]*`,
        );
      }
      if (!FIELD_TYPES.includes(type as FieldType)) {
        throw new TypeError(
          `Cannot open index '${name}' as field '${field}' must be one of ${
            FIELD_TYPES.join(", ")
          }: current value is ${JSON.stringify(type)}`,
        );
      }
      types[field] = type as FieldType;
    }
    const textFields = Object.keys(types).filter((field) => types[field] === "text");
    await driver.ensureIndex(name, types);
    logger.debug("index open", { index: name, fields: Object.keys(types).length });

    const indexed = (id: string, doc: T): IndexedDoc => {
      const what = `index document '${id}' in '${name}'`;
      if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
        throw new TypeError(`Cannot ${what} as it must be an object`);
      }
      encodeJson(doc, `document '${id}'`); // refuses what JSON would change or drop
      const terms: Record<string, string[]> = {};
      const keys: Record<string, FilterValue> = {};
      for (const [field, type] of Object.entries(types)) {
        const value = doc[field];
        if (value === undefined || value === null) continue;
        if (type === "text") {
          if (typeof value !== "string") {
            throw new TypeError(
              `Cannot ${what} as text field '${field}' must be a string: current value is ${
                JSON.stringify(value)
              }`,
            );
          }
          terms[field] = analyze(value);
        } else keys[field] = keyValue(`${what}: field '${field}'`, type, value);
      }
      return { id, doc, terms, keys };
    };

    const normalize = (query: SearchQuery<T>): DriverQuery => {
      const what = `search '${name}'`;
      if (query === null || typeof query !== "object") {
        throw new TypeError(`Cannot ${what} as 'query' must be an object`);
      }
      const text = query.text ?? "";
      if (typeof text !== "string") {
        throw new TypeError(`Cannot ${what} as 'text' must be a string: current value is ${text}`);
      }
      const fields = query.fields ?? textFields;
      for (const field of fields) {
        if (types[field] !== "text") {
          throw new TypeError(`Cannot ${what} as '${field}' is not a text field of the index`);
        }
      }
      const operator = query.operator ?? "or";
      if (operator !== "or" && operator !== "and") {
        throw new TypeError(
          `Cannot ${what} as 'operator' must be "or" or "and": current value is ${
            JSON.stringify(operator)
          }`,
        );
      }
      const filterable = (field: string, kinds: readonly FieldType[]): FieldType => {
        const type = types[field];
        if (!kinds.includes(type)) {
          throw new TypeError(
            `Cannot ${what} as '${field}' is not a ${kinds.join(", ")} field of the index`,
          );
        }
        return type;
      };
      const filters = Object.entries(query.filter ?? {}).map(([field, given]) => {
        const type = filterable(field, ["keyword", "number", "boolean", "date"]);
        const list = Array.isArray(given) ? given : [given];
        return {
          field,
          values: list.map((value) => keyValue(`${what}: filter '${field}'`, type, value)),
        };
      });
      const ranges = Object.entries(query.range ?? {}).map(([field, range]) => {
        const type = filterable(field, ["number", "date"]);
        const bound = (key: "gte" | "gt" | "lte" | "lt") =>
          range?.[key] === undefined
            ? undefined
            : keyValue(`${what}: range '${field}.${key}'`, type, range[key]) as number;
        return { field, gte: bound("gte"), gt: bound("gt"), lte: bound("lte"), lt: bound("lt") };
      });
      const sort = (query.sort ?? []).map(({ field, order = "asc" }) => {
        filterable(field, ["keyword", "number", "boolean", "date"]);
        if (order !== "asc" && order !== "desc") {
          throw new TypeError(`Cannot ${what} as sort order must be "asc" or "desc"`);
        }
        return { field, order };
      });
      const from = query.from ?? 0;
      const size = query.size ?? 10;
      if (
        !Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(size) || size < 0 ||
        from + size > MAX_WINDOW
      ) {
        throw new RangeError(
          `Cannot ${what} as 'from' and 'size' must be non-negative integers with from + size at most ${MAX_WINDOW}: current values are ${from} and ${size}`,
        );
      }
      return {
        text,
        terms: [...new Set(analyze(text))],
        fields,
        operator,
        filters,
        ranges,
        sort,
        from,
        size,
      };
    };

    const items = (given: readonly BulkItem<T>[]) => {
      if (!Array.isArray(given)) {
        throw new TypeError(`Cannot bulk-write to '${name}' as 'items' must be a list`);
      }
      return given.map((item) => {
        if (item?.op === "index") {
          return {
            op: "index" as const,
            doc: indexed(requireId("index a document", item.id), item.doc),
          };
        }
        if (item?.op === "delete") {
          return { op: "delete" as const, id: requireId("delete a document", item.id) };
        }
        throw new TypeError(
          `Cannot bulk-write to '${name}' as each item's 'op' must be "index" or "delete": got ${
            JSON.stringify(item)
          }`,
        );
      });
    };

    const call = <R>(action: string, signal: unknown, run: () => Promise<R>): Promise<R> =>
      underSignalOption(`${action} '${name}'`, signal, run);

    return {
      name,
      bulk: (given, options = {}) =>
        call("bulk-write to", options.signal, async () => {
          const checked = items(given);
          if (checked.length === 0) return { indexed: 0, deleted: 0 };
          return await driver.bulk(name, checked, options.refresh === true);
        }),
      put: (id, doc, options = {}) =>
        call("index a document in", options.signal, async () => {
          const one = indexed(requireId("index a document", id), doc);
          await driver.bulk(name, [{ op: "index", doc: one }], options.refresh === true);
        }),
      get: (id, options = {}) =>
        call(
          "get a document from",
          options.signal,
          async () => await driver.get(name, requireId("get a document", id)) as T | undefined,
        ),
      delete: (id, options = {}) =>
        call("delete a document from", options.signal, async () => {
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
          options.signal,
          async () => await driver.search(name, types, normalize(query)) as SearchResult<T>,
        ),
      drop: (options = {}) => call("drop", options.signal, () => driver.dropIndex(name)),
    };
  };

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
