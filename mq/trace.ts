/**
 * Trace context in message headers, readable by every service on the topic: the producer writes
 * the W3C `traceparent` (when clog's trace id is a W3C one) and the Go kit's `X-Trace-ID` (always);
 * the consumer reads either, whatever the case of the header's name, `traceparent` first.
 *
 * With an OpenTelemetry SDK registered, each message gets a producer span (`send <topic>`, ended
 * when the message is stored) whose context the headers carry, through the registered
 * propagator; each handler run is a consumer span (`process <topic>`), child of the producer's.
 *
 * @module
 */
import { newSpanId, traceContext, withTrace } from "../clog/mod.ts";
import {
  activeContext,
  extractContext,
  failSpan,
  injectContext,
  inSpan,
  kitTracer,
  nonRecordingSpan,
  type OtelContext,
  type OtelSpan,
  SpanKind,
  spanOf,
  withoutSpan,
  withSpanIn,
} from "../internal/otel.ts";

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
export function traceHeaders(span?: OtelSpan): Readonly<Record<string, string>> {
  if (span !== undefined) return spanHeaders(span);
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

/** Headers carrying `span`: the registered propagator's (tracestate and baggage too), else ours. */
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

/** Semantic-convention attributes of a message's spans. */
function messagingAttributes(system: string, topic: string, operation: "send" | "process") {
  return {
    "messaging.system": system,
    "messaging.destination.name": topic,
    "messaging.operation.type": operation,
    "messaging.operation.name": operation,
  };
}

/**
 * A producer span for one message, or undefined without an SDK; the caller ends it once the
 * message is stored or refused.
 *
 * @param system The driver's name (`kafka`, `redis`, `nats`, `memory`).
 * @param topic The message's topic.
 * @param key The message's key.
 */
export function producerSpan(
  system: string,
  topic: string,
  key: string | undefined,
): OtelSpan | undefined {
  const tracer = kitTracer();
  if (tracer === undefined) return undefined;
  const attributes = messagingAttributes(system, topic, "send");
  return tracer.startSpan(`send ${topic}`, {
    kind: SpanKind.PRODUCER,
    attributes: key === undefined ? attributes : { ...attributes, "messaging.message.key": key },
  }, activeContext());
}

/** Ends a producer span with the message's outcome. */
export function endProducerSpan(span: OtelSpan | undefined, error: unknown): void {
  if (span === undefined) return;
  if (error !== undefined) failSpan(span, error);
  span.end();
}

/** What a consumer span says of its record. */
export interface ConsumedRecordInfo {
  readonly system: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly group: string;
  readonly attempt: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Runs a handler in the record's trace: a consumer span, child of the producer's, when an SDK is
 * registered; else in clog's trace read from the headers.
 *
 * @param record Where the message came from, and its headers.
 * @param run The handler's run.
 */
export async function consumeInTrace(
  record: ConsumedRecordInfo,
  run: () => void | Promise<void>,
): Promise<void> {
  const tracer = kitTracer();
  if (tracer === undefined) {
    const trace = traceOf(record.headers);
    return await (trace ? withTrace(trace.traceId, run, { spanId: trace.spanId }) : run());
  }
  return await inSpan(tracer, `process ${record.topic}`, {
    kind: SpanKind.CONSUMER,
    parent: parentOf(record.headers),
    attributes: {
      ...messagingAttributes(record.system, record.topic, "process"),
      "messaging.consumer.group.name": record.group,
      "messaging.destination.partition.id": String(record.partition),
      "messaging.kafka.offset": Number(record.offset),
      "messaging.delivery.attempt": record.attempt,
    },
  }, run);
}

/**
 * The producer's context from the headers: the registered propagator's reading, else the
 * `traceparent`, else a W3C-shaped `X-Trace-ID` as a remote trace; with none, the consumer span
 * starts a trace of its own.
 */
function parentOf(headers: Readonly<Record<string, string>>): OtelContext | undefined {
  const active = activeContext();
  if (active === undefined) return undefined;
  // Whatever span was active when the consumer started is no parent of a message's work.
  const base = withoutSpan(active);
  const extracted = extractContext(base, headers);
  if (extracted !== undefined && spanOf(extracted) !== undefined) return extracted;
  const traceparent = header(headers, "traceparent");
  const parent = traceparent ? TRACEPARENT.exec(traceparent.trim().toLowerCase()) : null;
  if (parent) {
    return withSpanIn(
      base,
      nonRecordingSpan({ traceId: parent[1], spanId: parent[2], traceFlags: 1, isRemote: true }),
    );
  }
  const goTrace = header(headers, "x-trace-id")?.trim().toLowerCase();
  if (goTrace && /^(?!0{32})[0-9a-f]{32}$/.test(goTrace)) {
    return withSpanIn(
      base,
      nonRecordingSpan({ traceId: goTrace, spanId: newSpanId(), traceFlags: 1, isRemote: true }),
    );
  }
  return withoutSpan(base);
}
