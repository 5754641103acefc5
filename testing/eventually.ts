/**
 * Polling assertion for behaviour that settles asynchronously.
 *
 * @module
 */

/** Options of {@linkcode eventually}. */
export interface EventuallyOptions {
  /**
   * Give up after this long.
   * @default {5000}
   */
  readonly timeoutMs?: number;
  /**
   * Pause between attempts.
   * @default {20}
   */
  readonly intervalMs?: number;
}

/**
 * Runs `check` until it stops throwing, then returns its result; after
 * `timeoutMs` the last failure is rethrown with the time waited.
 *
 * @param check An assertion, sync or async.
 * @param options Timeout and interval.
 * @returns What `check` returned on its first success.
 * @throws {Error} The last failure of `check`, once the timeout has passed.
 *
 * @example Waiting for a flag
 * ```ts
 * import { eventually } from "./eventually.ts";
 * import assert from "node:assert/strict";
 *
 * let ready = false;
 * setTimeout(() => (ready = true), 30);
 * await eventually(() => assert.ok(ready));
 * ```
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 5000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() >= deadline) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`eventually() gave up after ${timeoutMs} ms: ${reason}`, { cause: error });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
