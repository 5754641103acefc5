/**
 * The cache's OpenTelemetry spans: one client span per provider call (`cache get`, `cache set`,
 * `cache del`, `cache getOrLoad`, `lock acquire`), so every driver gets them alike. They carry
 * `db.system` (the driver's name: `memory`, `redis`), `db.operation` and the provider's key
 * prefix, never a key nor a value (keys can hold user ids). Callers test the tracer first
 * (`kitTracer()`): without an SDK
 * nothing here runs. A stale value served by getOrLoad is an event, `cache stale served`.
 *
 * @module
 */
import { inSpan, kitTracer, type OtelSpan, SpanKind } from "../internal/otel.ts";

/** What a span says of the provider: its driver and its key prefix. */
export interface TraceInfo {
  /** The driver's name, the span's `db.system`. */
  readonly system: string;
  /** The provider's key prefix; `""` for none (then left out). */
  readonly keyPrefix: string;
}

/** The tracer `kitTracer()` returns when an SDK is registered. */
export type Tracer = NonNullable<ReturnType<typeof kitTracer>>;

/** The attributes every span of `info` starts with, for `operation`. */
function attributesOf(info: TraceInfo, operation: string) {
  return {
    "db.system": info.system,
    "db.operation": operation,
    "cache.key_prefix": info.keyPrefix === "" ? undefined : info.keyPrefix,
  };
}

/**
 * Runs `fn` in a client span named `name` (`cache get`), child of the active span.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param info The provider's driver and key prefix.
 * @param name The span's name.
 * @param operation Its `db.operation`.
 * @param fn The call, given the span for more attributes.
 * @returns What `fn` resolves to.
 */
export function cacheSpan<T>(
  tracer: Tracer,
  info: TraceInfo,
  name: string,
  operation: string,
  fn: (span: OtelSpan) => T | Promise<T>,
): Promise<T> {
  return inSpan(
    tracer,
    name,
    { kind: SpanKind.CLIENT, attributes: attributesOf(info, operation) },
    fn,
  );
}

/**
 * Runs a getOrLoad loader in an internal span `cache load`, child of the `cache getOrLoad` span
 * that started it; plainly without an SDK.
 *
 * @param loader The caller's loader.
 * @returns What it resolves to.
 */
export function tracedLoad<T>(loader: () => Promise<T>): Promise<T> {
  const tracer = kitTracer();
  if (tracer === undefined) return loader();
  return inSpan(tracer, "cache load", { kind: SpanKind.INTERNAL }, () => loader());
}
