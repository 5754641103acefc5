/**
 * The error every driver wraps its backend's failures in, so callers never see
 * an ioredis or etcd3 error type.
 *
 * @module
 */

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
