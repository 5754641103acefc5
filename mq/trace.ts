/**
 * Trace context in message headers: W3C `traceparent` when clog's trace id is
 * a W3C one, `x-trace-id` otherwise.
 *
 * @module
 */
import { newSpanId, traceContext } from "../clog/mod.ts";

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * Headers carrying the current clog trace, empty outside a trace.
 *
 * @returns `{ traceparent }`, `{ "x-trace-id" }` or `{}`.
 */
export function traceHeaders(): Readonly<Record<string, string>> {
  const context = traceContext();
  if (!context) return NO_HEADERS;
  if (/^[0-9a-f]{32}$/.test(context.traceId)) {
    return { traceparent: `00-${context.traceId}-${context.spanId ?? newSpanId()}-01` };
  }
  return { "x-trace-id": context.traceId };
}

/**
 * The trace a consumed message belongs to, with a new span id for the consumer's work.
 *
 * @param headers The message headers.
 * @returns The trace, or undefined when the message carries none.
 */
export function traceOf(
  headers: Readonly<Record<string, string>>,
): { traceId: string; spanId?: string } | undefined {
  const parent = headers.traceparent ? TRACEPARENT.exec(headers.traceparent) : null;
  if (parent) return { traceId: parent[1], spanId: newSpanId() };
  return headers["x-trace-id"] ? { traceId: headers["x-trace-id"] } : undefined;
}
