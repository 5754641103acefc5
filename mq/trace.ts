/**
 * Trace context in message headers, readable by every service on the topic (the headers as
 * `clog/propagation.ts` writes and reads them). With an OpenTelemetry SDK registered, each message gets a producer span (`send <topic>`, ended
 * when the message is stored) whose context the headers carry, through the registered
 * propagator; each handler run is a consumer span (`process <topic>`), child of the producer's.
 *
 * @module
 */
import { remoteContext } from "../clog/propagation.ts";
import {
  activeContext,
  failSpan,
  inSpan,
  kitTracer,
  type OtelSpan,
  SpanKind,
} from "../internal/otel.ts";

export { GO_TRACE_HEADER, traceHeaders, traceOf } from "../clog/propagation.ts";

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
 * Runs a handler in a consumer span (`process <topic>`), child of the producer's span that the
 * headers name; the caller has found an SDK registered (without one, it runs the handler in
 * clog's trace read with `traceOf`, which costs no span).
 *
 * @param tracer From `kitTracer()`.
 * @param record Where the message came from, and its headers.
 * @param run The handler's run.
 */
export function consumeInSpan(
  tracer: NonNullable<ReturnType<typeof kitTracer>>,
  record: ConsumedRecordInfo,
  run: () => void | Promise<void>,
): Promise<void> {
  return inSpan(tracer, `process ${record.topic}`, {
    kind: SpanKind.CONSUMER,
    parent: remoteContext(record.headers),
    attributes: {
      ...messagingAttributes(record.system, record.topic, "process"),
      "messaging.consumer.group.name": record.group,
      "messaging.destination.partition.id": String(record.partition),
      "messaging.kafka.offset": Number(record.offset),
      "messaging.delivery.attempt": record.attempt,
    },
  }, run);
}
