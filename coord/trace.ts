/**
 * coord's OpenTelemetry spans: a wait for a lock (`lock acquire`, `lock tryAcquire`) or for
 * leadership (`election campaign`) is one span, from the call to the lock or the term, with its
 * outcome and fencing token; a failure or the caller's abort marks it failed. Callers take the
 * tracer from `kitTracer()` first and skip this module without an SDK.
 *
 * @module
 */
import { inSpan, type kitTracer, type SpanAttributes, SpanKind } from "../internal/otel.ts";

/** What {@linkcode kitTracer} hands out. */
export type Tracer = NonNullable<ReturnType<typeof kitTracer>>;

/** What a traced wait got: a lock or leadership (its token), or nothing (`tryAcquire` on a held lock). */
type Taken = { readonly token: number } | null;

/**
 * Runs `take` in a span named `name`, then records its outcome (`<prefix>.outcome`: `acquired` or
 * `elected`, `busy` when `take` got nothing, `aborted` when the caller's signal ended it, `failed`)
 * and the fencing token (`<prefix>.fencing_token`).
 *
 * @param tracer From `kitTracer()`.
 * @param name The span name.
 * @param prefix The attributes' namespace: `lock` or `election`.
 * @param attributes The span's attributes from the start.
 * @param signal The caller's signal, to tell an abort from a failure.
 * @param take The wait.
 * @returns What `take` got.
 */
export function tracedWait<T extends Taken>(
  tracer: Tracer,
  name: string,
  prefix: "lock" | "election",
  attributes: SpanAttributes,
  signal: unknown,
  take: () => Promise<T>,
): Promise<T> {
  return inSpan(tracer, name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    let taken: T;
    try {
      taken = await take();
    } catch (error) {
      const aborted = signal instanceof AbortSignal && signal.aborted;
      span.setAttribute(`${prefix}.outcome`, aborted ? "aborted" : "failed");
      throw error;
    }
    if (taken === null) {
      span.setAttribute(`${prefix}.outcome`, "busy");
    } else {
      span.setAttribute(`${prefix}.outcome`, prefix === "lock" ? "acquired" : "elected");
      span.setAttribute(`${prefix}.fencing_token`, taken.token);
    }
    return taken;
  });
}
