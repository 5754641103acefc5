/**
 * The once provider's OpenTelemetry span: one client span per call, `once do` or `once execute`,
 * with `db.system` (the driver's name: `memory`, `redis`), `db.operation` and `once.outcome`, the
 * outcome `once_calls_total` counts (`ran`, `failed`, `replayed`, `replayed_failure`, `conflict`,
 * `in_progress`); never the key (it can hold a user id). The caller's `fn` runs inside it, so its
 * own spans are the span's children. The caller tests `kitTracer()` first: without an SDK nothing
 * here runs.
 *
 * @module
 */
import { inSpan, type kitTracer, type OtelSpan, SpanKind } from "../internal/otel.ts";

/**
 * Runs one call of `do` or `execute` in its span, child of the active span.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param system The driver's name.
 * @param operation `do` or `execute`.
 * @param run The call, given the span to record its outcome on.
 * @returns What `run` resolves to.
 */
export function onceSpan<T>(
  tracer: NonNullable<ReturnType<typeof kitTracer>>,
  system: string,
  operation: "do" | "execute",
  run: (span: OtelSpan) => Promise<T>,
): Promise<T> {
  return inSpan(tracer, `once ${operation}`, {
    kind: SpanKind.CLIENT,
    attributes: { "db.system": system, "db.operation": operation },
  }, run);
}
