/**
 * breaker's OpenTelemetry span events, added to the caller's active span (breakers make no span
 * of their own): `breaker.rejected` when a call is refused without running, `breaker.state_change`
 * when the caller's call moved the breaker. Without an SDK each costs one property read, and
 * nothing is allocated.
 *
 * @module
 */
import { kitTracer, spanEvent } from "../internal/otel.ts";
import type { BreakerOpenError } from "./circuit.ts";
import type { StateChange } from "./types.ts";

/**
 * Adds a `breaker.rejected` event for a call refused with `refusal`.
 *
 * @param refusal What the call is rejected with: the breaker, its state and wait.
 */
export function rejectedEvent(refusal: BreakerOpenError): void {
  if (kitTracer() === undefined) return;
  spanEvent("breaker.rejected", {
    "breaker.name": refusal.breaker,
    "breaker.state": refusal.state,
    "breaker.retry_after_ms": refusal.retryAfterMs,
  });
}

/**
 * Adds a `breaker.state_change` event.
 *
 * @param change The breaker and its states before and after.
 */
export function stateChangeEvent(change: StateChange): void {
  if (kitTracer() === undefined) return;
  spanEvent("breaker.state_change", {
    "breaker.name": change.breaker,
    "breaker.state.from": change.from,
    "breaker.state": change.to,
  });
}
