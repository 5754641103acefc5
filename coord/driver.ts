/**
 * What a driver author needs to write a coord driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/coord` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export { componentConfig } from "./config.ts";
export type { ComponentConfigSite } from "./config.ts";
export { prefixedDriver } from "./prefix.ts";
export { CompactedError } from "./types.ts";
export type {
  Compare,
  CoordDriver,
  KeyValue,
  TxnOp,
  TxnResult,
  WatchBatch,
  WatchEvent,
  WatchTarget,
} from "./types.ts";
