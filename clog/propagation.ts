/**
 * Trace context in headers (HTTP requests, mq messages), readable by every service: written as
 * the W3C `traceparent` (when the trace id is a W3C one) and the Go kit's `X-Trace-ID` (always);
 * read from either, whatever the case of the header's name, `traceparent` first. With an
 * OpenTelemetry SDK registered, the registered propagator writes and reads them (so `tracestate`
 * and baggage travel too), the kit's own reading standing in where it finds nothing.
 *
 * @module
 */
import {
  activeContext,
  extractContext,
  injectContext,
  nonRecordingSpan,
  type OtelContext,
  type OtelSpan,
  spanOf,
  withoutSpan,
  withSpanIn,
} from "../internal/otel.ts";
import { newSpanId, traceContext } from "./context.ts";

/** Headers as mq records carry them, or a fetch `Headers`. */
export type HeaderCarrier = Headers | Readonly<Record<string, string>>;

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** Read once: `instanceof Headers` looked up on the global object costs a consumed message 35 ns. */
const HeadersClass = Headers;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const W3C_TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/;
/** The Go kit's trace header, written with this case; read in any case. */
export const GO_TRACE_HEADER = "X-Trace-ID";

/**
 * Headers carrying `span` (through the registered propagator when there is one), else clog's
 * current trace; empty outside a trace.
 *
 * @param span The span the receiver continues from; clog's trace when absent.
 * @returns `{ traceparent, "X-Trace-ID" }`, `{ "X-Trace-ID" }` (a trace id that is not W3C's) or
 * `{}`.
 */
export function traceHeaders(span?: OtelSpan): Readonly<Record<string, string>> {
  if (span !== undefined) return spanHeaders(span);
  const context = traceContext();
  if (!context) return NO_HEADERS;
  if (W3C_TRACE_ID.test(context.traceId)) {
    return {
      traceparent: `00-${context.traceId}-${context.spanId ?? newSpanId()}-01`,
      [GO_TRACE_HEADER]: context.traceId,
    };
  }
  return { [GO_TRACE_HEADER]: context.traceId };
}

function spanHeaders(span: OtelSpan): Record<string, string> {
  const { traceId, spanId, traceFlags } = span.spanContext();
  const headers: Record<string, string> = {};
  const active = activeContext();
  if (active === undefined || !injectContext(withSpanIn(active, span), headers)) {
    headers.traceparent = `00-${traceId}-${spanId}-0${traceFlags & 1}`;
  }
  headers[GO_TRACE_HEADER] = traceId;
  return headers;
}

/**
 * A header's value by name in any case (Kafka header names are case-sensitive bytes).
 *
 * @param headers The carrier.
 * @param lowerName The name, lower-case.
 * @returns The value, or undefined.
 */
export function header(headers: HeaderCarrier, lowerName: string): string | undefined {
  if (headers instanceof HeadersClass) return headers.get(lowerName) ?? undefined;
  const exact = headers[lowerName];
  if (exact !== undefined) return exact;
  for (const name in headers) if (name.toLowerCase() === lowerName) return headers[name];
  return undefined;
}

/** The W3C parent a `traceparent` names. */
function traceparentOf(headers: HeaderCarrier) {
  const traceparent = header(headers, "traceparent");
  const match = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  return match && W3C_TRACE_ID.test(match[1])
    ? { traceId: match[1], spanId: match[2], traceFlags: parseInt(match[3], 16) & 1 }
    : undefined;
}

/**
 * The trace the headers carry, with a new span id for the receiver's work.
 *
 * @param headers The received headers.
 * @returns The trace, or undefined when they carry none.
 */
export function traceOf(headers: HeaderCarrier): { traceId: string; spanId?: string } | undefined {
  const parent = traceparentOf(headers);
  if (parent) return { traceId: parent.traceId, spanId: newSpanId() };
  const goTrace = header(headers, "x-trace-id")?.trim();
  return goTrace ? { traceId: goTrace } : undefined;
}

/**
 * The sender's context from the headers, for a span of the receiver's work: the registered
 * propagator's reading, else the `traceparent`, else a W3C-shaped `X-Trace-ID` as a remote trace;
 * with none, a context without a span (the receiver's span starts a trace of its own), never the
 * span that happened to be active.
 *
 * @param headers The received headers.
 * @returns The context, or undefined when no context manager is registered.
 */
export function remoteContext(headers: HeaderCarrier): OtelContext | undefined {
  const active = activeContext();
  if (active === undefined) return undefined;
  const base = withoutSpan(active);
  const extracted = extractContext(base, headers);
  if (extracted !== undefined && spanOf(extracted) !== undefined) return extracted;
  const parent = traceparentOf(headers);
  if (parent) return withSpanIn(base, nonRecordingSpan({ ...parent, isRemote: true }));
  const goTrace = header(headers, "x-trace-id")?.trim().toLowerCase();
  if (goTrace && W3C_TRACE_ID.test(goTrace)) {
    return withSpanIn(
      base,
      nonRecordingSpan({ traceId: goTrace, spanId: newSpanId(), traceFlags: 1, isRemote: true }),
    );
  }
  return base;
}
