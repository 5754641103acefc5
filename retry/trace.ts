/**
 * retry's OpenTelemetry span events, added to the caller's active span (retry makes no span of
 * its own): `retry` for each failed attempt that will be retried, `retry.exhausted` when the call
 * gives up. Without an SDK each costs one property read, and nothing is allocated.
 *
 * @module
 */
import { kitTracer, spanEvent } from "../internal/otel.ts";

/** Why a call gave up: the value of `retry.reason` on `retry.exhausted`. */
export type GiveUpReason = "max_retries" | "not_retryable" | "max_elapsed" | "budget" | "permanent";

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Adds a `retry` event: attempt `attempt` failed with `error`, the next starts in `delayMs`.
 *
 * @param attempt The attempt that failed, from 1.
 * @param delayMs The wait before the next attempt.
 * @param error Its error.
 */
export function retryEvent(attempt: number, delayMs: number, error: unknown): void {
  if (kitTracer() === undefined) return;
  spanEvent("retry", {
    "retry.attempt": attempt,
    "retry.delay_ms": delayMs,
    "exception.message": errorMessage(error),
  });
}

/**
 * Adds a `retry.exhausted` event: the call gives up after `attempts` attempts with `error`.
 *
 * @param reason Why no further attempt starts.
 * @param attempts Attempts made.
 * @param error The last error, thrown to the caller.
 * @returns `error`, to throw.
 */
export function gaveUp(reason: GiveUpReason, attempts: number, error: unknown): unknown {
  if (kitTracer() === undefined) return error;
  spanEvent("retry.exhausted", {
    "retry.reason": reason,
    "retry.attempt": attempts,
    "exception.message": errorMessage(error),
  });
  return error;
}
