/**
 * The search driver on PostgreSQL: the SQL search driver of es (BM25 in SQL) over a kit db
 * provider that is given, or opened from a URL with the PostgreSQL driver.
 *
 * @module
 */
import { create as createDb, type Db, defaultConfig } from "../../db/mod.ts";
import { sqlSearch } from "../../es/mod.ts";
import type { SearchDriver } from "../../es/driver.ts";
import { checkConfig } from "../../internal/config.ts";
import { postgresDb } from "./db.ts";

/** Options of {@linkcode postgresSearch}: a kit db provider to use, or a URL to connect to. */
export interface PostgresSearchOptions {
  /**
   * A db provider of the application (PostgreSQL, or PGlite in process); the driver does not
   * close it.
   */
  readonly db?: Db;
  /** Or a PostgreSQL URL: the driver opens (and closes) a provider of its own. */
  readonly url?: string;
  /**
   * Prefix of the driver's four tables (`<prefix>_indexes`, `_docs`, `_terms`, `_lengths`),
   * created on first use.
   * @default {"kit_search"}
   */
  readonly tablePrefix?: string;
}

/**
 * Creates the PostgreSQL search driver: full-text search with the kit's analyzer (CJK
 * bigrams included) and BM25 ranking in SQL, the same scores as the memory driver. It works on
 * PostgreSQL and on PGlite through a kit db provider; it is `sqlSearch` of es, which also
 * opens the provider from a URL (on first use, closed with the driver).
 *
 * @param options A db provider, or a URL; the tables' prefix.
 * @returns The driver.
 * @throws {TypeError} When neither `db` nor `url` is given, or on a bad table prefix.
 */
export function postgresSearch(options: PostgresSearchOptions): SearchDriver {
  checkConfig("postgresSearch", options, ["db", "url", "tablePrefix"], {
    argument: "options",
    noun: "option",
  });
  const { db, url, tablePrefix } = options;
  if (!db && !url) {
    throw new TypeError("Cannot create postgres search as 'db' or 'url' is needed");
  }
  return sqlSearch({
    db: db ?? (() => createDb({ ...defaultConfig("production"), url }, { driver: postgresDb() })),
    ...(tablePrefix === undefined ? {} : { tablePrefix }),
  });
}
