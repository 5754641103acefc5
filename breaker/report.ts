/**
 * How breakers tell of what happens to them: the `breaker_state` gauge, the
 * `breaker_calls_total` counters, a log line per change of state, and the
 * application's `onStateChange` listener.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { BoundCounter, Metrics } from "../metrics/mod.ts";
import type { BreakerState, StateChange } from "./types.ts";

/** One breaker's `breaker_calls_total` series, by outcome. */
export type CallCounters = Record<"success" | "failure" | "rejected", BoundCounter>;

/** `breaker_state` values. */
const STATE_VALUES: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 };

/** The reporting of one breaker provider. */
export interface BreakerReport {
  /** Registers a new breaker, closed: returns its outcome counters (none without metrics). */
  track(name: string): CallCounters | undefined;
  /** Records, logs and passes on a change of state; `fields` go into the log line. */
  changed(change: StateChange, fields: Record<string, unknown>): void;
}

/**
 * Creates the reporting of a breaker provider.
 *
 * @param logger Where changes of state are logged.
 * @param metrics Where the gauge and counters live, if anywhere.
 * @param onStateChange The application's listener; what it throws is logged, not passed on.
 * @returns The report.
 */
export function breakerReport(
  logger: Logger,
  metrics: Pick<Metrics, "counter" | "gauge"> | undefined,
  onStateChange: ((change: StateChange) => void) | undefined,
): BreakerReport {
  const stateGauge = metrics?.gauge("breaker_state", {
    help: "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
    labels: ["breaker"],
  });
  const calls = metrics?.counter("breaker_calls_total", {
    help: "Calls through circuit breakers, by outcome: success, failure, rejected (not run).",
    labels: ["breaker", "outcome"],
  });
  return {
    track(name: string): CallCounters | undefined {
      const counters = calls && {
        success: calls.with({ breaker: name, outcome: "success" }),
        failure: calls.with({ breaker: name, outcome: "failure" }),
        rejected: calls.with({ breaker: name, outcome: "rejected" }),
      };
      stateGauge?.set(0, { breaker: name });
      return counters;
    },
    changed(change: StateChange, fields: Record<string, unknown>): void {
      stateGauge?.set(STATE_VALUES[change.to], { breaker: change.breaker });
      const message = `circuit breaker ${change.to === "half-open" ? "half-open" : change.to}`;
      if (change.to === "open") logger.warn(message, { breaker: change.breaker, ...fields });
      else logger.info(message, { breaker: change.breaker, ...fields });
      try {
        onStateChange?.(change);
      } catch (error) {
        logger.error("onStateChange threw", { breaker: change.breaker, err: error });
      }
    },
  };
}
