/**
 * What a driver author needs to write a once driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/once` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export type { BeginResult, OnceDriver, OnceOutcome } from "./types.ts";
