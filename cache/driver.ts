/**
 * What a driver author needs to write a cache driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/cache` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export {
  KEY_SEPARATOR,
  keyspace,
  MAX_TIMER_MS,
  requireText,
  requireTtl,
  unsafeIncrementError,
} from "./_util.ts";
export type { InternalKeyKind, Keyspace } from "./_util.ts";
export { cacheLockService, createLockService } from "./lock.ts";
export type { ClosableLockService, CreateLockServiceOptions, LockContext } from "./lock.ts";
export type { CacheDriver, DriverMessageListener, DriverSubscription } from "./types.ts";
