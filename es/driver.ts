/**
 * What a driver author needs to write a es driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/es` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export { bm25, BM25_B, BM25_K1 } from "./memory.ts";
export { mergeMappings } from "./types.ts";
export type { DriverQuery, IndexedDoc, SearchDriver } from "./types.ts";
