/**
 * Trace context in message headers, readable by every service on the topic: the producer writes
 * the W3C `traceparent` (when clog's trace id is a W3C one) and the Go kit's `X-Trace-ID` (always);
 * the consumer reads either, whatever the case of the header's name, `traceparent` first.
 *
 * @module
 */
import { newSpanId, traceContext } from "../clog/mod.ts";

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
/** The Go kit's trace header, written with this case; read in any case. */
export const GO_TRACE_HEADER = "X-Trace-ID";

/**
 * Headers carrying the current clog trace, empty outside a trace.
 *
 * @returns `{ traceparent, "X-Trace-ID" }`, `{ "X-Trace-ID" }` (a trace id that is not W3C's) or
 * `{}`.
 */
export function traceHeaders(): Readonly<Record<string, string>> {
  const context = traceContext();
  if (!context) return NO_HEADERS;
  if (/^[0-9a-f]{32}$/.test(context.traceId)) {
    return {
      traceparent: `00-${context.traceId}-${context.spanId ?? newSpanId()}-01`,
      [GO_TRACE_HEADER]: context.traceId,
    };
  }
  return { [GO_TRACE_HEADER]: context.traceId };
}

/** A header's value by name in any case (Kafka header names are case-sensitive bytes). */
function header(headers: Readonly<Record<string, string>>, lowerName: string): string | undefined {
  const exact = headers[lowerName];
  if (exact !== undefined) return exact;
  for (const name in headers) if (name.toLowerCase() === lowerName) return headers[name];
  return undefined;
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
  const traceparent = header(headers, "traceparent");
  const parent = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  if (parent) return { traceId: parent[1], spanId: newSpanId() };
  const goTrace = header(headers, "x-trace-id")?.trim();
  return goTrace ? { traceId: goTrace } : undefined;
}
