/**
 * The PostgreSQL drivers: db over npm:postgres (postgres.js), a pool for the primary and one per
 * read replica, results shaped like the PGlite driver's; and search, BM25 in SQL (es's
 * `sqlSearch`) on a db provider or a URL.
 *
 * @example Cluster mode
 * ```ts ignore
 * import { db } from "@gochat/kit";
 * import { postgresDb } from "@gochat/kit/drivers/postgres";
 *
 * await using database = await db.create(
 *   { ...db.defaultConfig("production"), url: "postgres://app@127.0.0.1:5432/app" },
 *   { driver: postgresDb() },
 * );
 * ```
 *
 * @module
 */
export {
  type PostgresClient,
  postgresDb,
  type PostgresDbOptions,
  postgresResultTypes,
  type PostgresTlsOptions,
  type PostgresType,
} from "./db.ts";
export { postgresSearch, type PostgresSearchOptions } from "./search.ts";
