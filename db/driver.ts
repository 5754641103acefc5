/**
 * What a driver author needs to write a db driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/db` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export type { QueryRunner } from "./query.ts";
export { normalizeParams } from "./sql.ts";
export { connectionSqlstate, databaseError, RETRYABLE_SQLSTATES } from "./types.ts";
export type { DbDriver, DbExecutor, DbPool, QueryResult } from "./types.ts";
