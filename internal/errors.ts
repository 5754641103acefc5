/**
 * The error every driver wraps its backend's failures in, so callers never see
 * an ioredis or etcd3 error type.
 *
 * @module
 */

import { scrubError } from "./redact.ts";

/** A backend (etcd, Redis, PostgreSQL, …) failed or could not be reached. */
export class DriverError extends Error {
  /** Stable code for branching without `instanceof`. */
  readonly code = "DRIVER_ERROR";
  /** Driver name: `etcd`, `memory`, `redis`, … */
  readonly driver: string;
  /** The operation that failed, such as `get` or `grantLease`. */
  readonly operation: string;

  /**
   * Creates the error.
   *
   * @param driver Driver name.
   * @param operation The operation that failed.
   * @param cause The backend's error.
   */
  constructor(driver: string, operation: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`${driver} driver: ${operation} failed: ${reason}`, { cause });
    this.name = "DriverError";
    this.driver = driver;
    this.operation = operation;
  }
}

/**
 * Something the caller held (a lock, a lease, a leadership, an instance id) is no longer held.
 * Every `…LostError` of the kit extends it, so one `instanceof LostError` catches them all.
 */
export abstract class LostError extends Error {
  /** Stable code of the kind of loss (`COORD_LOCK_LOST` …). */
  abstract readonly code: string;
}

/**
 * The one way a backend's error becomes a `DriverError`: its cause is a copy without credentials
 * or request details (see `scrubError`), and a `DriverError` passes through unchanged.
 *
 * @param driver Driver name.
 * @param operation The operation that failed.
 * @param error What the client library threw.
 * @param secrets Strings that must not appear in the error (passwords, tokens).
 * @returns The error to throw.
 */
export function driverError(
  driver: string,
  operation: string,
  error: unknown,
  secrets: readonly string[] = [],
): DriverError {
  if (error instanceof DriverError) return error;
  return new DriverError(driver, operation, scrubError(error, secrets));
}

/**
 * The `DriverError` of a call made after the driver was closed.
 *
 * @param driver Driver name.
 * @param operation The operation refused.
 * @returns The error to throw.
 */
export function closedDriverError(driver: string, operation: string): DriverError {
  return new DriverError(driver, operation, new Error("the driver is closed"));
}
