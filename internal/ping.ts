/**
 * The one `ping()` every provider answers readiness with: refused once the provider is closed,
 * bound to the caller's signal, and failing only with a {@linkcode DriverError}.
 *
 * @module
 */

import { DriverError } from "./errors.ts";
import { underSignalOption } from "./signal.ts";

/** What a provider's `ping()` accepts. */
export interface PingOptions {
  /** Ends the wait early; the ping then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/**
 * Checks a provider's backend through `check`.
 *
 * @param component The provider's name, for the messages (`cache`, `db`).
 * @param driver The driver's name, for the DriverError.
 * @param isClosed Whether the provider has been closed.
 * @param options The caller's options.
 * @param check Asks the backend.
 * @returns Resolves when the backend answered.
 */
export function pingProvider(
  component: string,
  driver: string,
  isClosed: () => boolean,
  options: PingOptions | undefined,
  check: () => Promise<void>,
): Promise<void> {
  return underSignalOption(`ping the ${component} provider`, options?.signal, () => {
    if (isClosed()) {
      return Promise.reject(
        new DriverError(driver, "ping", new Error(`the ${component} provider is closed`)),
      );
    }
    return check().catch((error) => {
      throw error instanceof DriverError ? error : new DriverError(driver, "ping", error);
    });
  });
}
