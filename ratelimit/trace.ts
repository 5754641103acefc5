/**
 * The rate limiter's OpenTelemetry span: one client span `ratelimit allow` per decision, with
 * `db.system` (the driver's name: `memory`, `redis`), `db.operation`, `ratelimit.rule`,
 * `ratelimit.cost` and `ratelimit.allowed`; never the key (it can hold a user id or an address).
 * The caller tests `kitTracer()` first: without an SDK nothing here runs.
 *
 * @module
 */
import { inSpan, type kitTracer, SpanKind } from "../internal/otel.ts";
import type { Decision } from "./types.ts";

/**
 * Runs one decision in a `ratelimit allow` span, child of the active span.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param system The driver's name.
 * @param rule The rule name asked for.
 * @param cost The units asked for.
 * @param decide The decision.
 * @returns The decision.
 */
export function allowSpan(
  tracer: NonNullable<ReturnType<typeof kitTracer>>,
  system: string,
  rule: string,
  cost: number,
  decide: () => Promise<Decision>,
): Promise<Decision> {
  return inSpan(tracer, "ratelimit allow", {
    kind: SpanKind.CLIENT,
    attributes: {
      "db.system": system,
      "db.operation": "allow",
      "ratelimit.rule": rule,
      "ratelimit.cost": cost,
    },
  }, async (span) => {
    const decision = await decide();
    span.setAttribute("ratelimit.allowed", decision.allowed);
    return decision;
  });
}
