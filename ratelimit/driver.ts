/**
 * What a driver author needs to write a ratelimit driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/ratelimit` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export { bindKeyPrefix } from "../internal/namespace.ts";
export { decide, decision } from "./types.ts";
export type { BucketState, RateLimitDriver } from "./types.ts";
