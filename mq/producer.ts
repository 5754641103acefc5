/**
 * The producer: a message is checked and encoded at once (topic, key and
 * headers well-formed, value through the serializer, clog's trace in the
 * headers, size within `maxMessageBytes`), queued, and sent in a batch after
 * `lingerMs` or when `maxBatchSize` messages wait. Batches leave one at a time,
 * in order, so messages keep the order they were sent in; their topics are
 * made sure of (created on first use in development) just before.
 *
 * @module
 */
import { malformedText } from "../internal/text.ts";
import { optionalSignal } from "../internal/signal.ts";
import type { MqContext } from "./_context.ts";
import { endProducerSpan, producerSpan, traceHeaders } from "./trace.ts";
import type { OtelSpan } from "../internal/otel.ts";
import type { OutgoingRecord } from "./types.ts";

/** A message to send. */
export interface Message<T = unknown> {
  /** Topic. */
  readonly topic: string;
  /** Key: one key, one partition, order kept. Round robin without. */
  readonly key?: string;
  /** Value; encoded by the provider's serializer (JSON by default, a bigint as an integer). */
  readonly value: T;
  /** Extra headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** Options of `send` and `sendSync`. */
export interface SendOptions {
  /**
   * Withdraws the message while its batch has not left: it is not sent, and the call (its
   * callback) gets the signal's reason. A message whose batch has left is not withdrawn.
   */
  readonly signal?: AbortSignal;
}

/** Sends messages, batched. */
export interface Producer {
  /**
   * Queues a message; the batch goes out after `lingerMs` or when full. `callback` gets the
   * outcome (an error, or undefined once stored).
   *
   * @throws {TypeError} When the value cannot be encoded.
   * @throws {MessageTooLargeError} Over `maxMessageBytes`.
   */
  send<T>(
    message: Message<T>,
    callback?: (error: Error | undefined) => void,
    options?: SendOptions,
  ): void;
  /**
   * Sends a message and resolves once it is stored. When `signal` aborts before the message's
   * batch leaves, it is not sent; after that, the call stops waiting and the message may still
   * be stored. Either way the call rejects with the signal's reason.
   */
  sendSync<T>(message: Message<T>, options?: SendOptions): Promise<void>;
  /** Sends everything queued now. */
  flush(): Promise<void>;
}

/** A message over `maxMessageBytes`. */
export class MessageTooLargeError extends Error {
  /** Stable code. */
  readonly code = "MQ_MESSAGE_TOO_LARGE";
  /** Size of the message in bytes. */
  readonly size: number;
  /** The limit. */
  readonly max: number;

  /**
   * Creates the error.
   *
   * @param topic The topic.
   * @param size The message size.
   * @param max The limit.
   */
  constructor(topic: string, size: number, max: number) {
    super(
      `Cannot send to topic '${topic}' as the message is ${size} bytes, over maxMessageBytes (${max})`,
    );
    this.name = "MessageTooLargeError";
    this.size = size;
    this.max = max;
  }
}

/** The provider's settings a producer uses. */
export interface ProducerSettings {
  /** Largest message accepted, in UTF-8 bytes. */
  readonly maxMessageBytes: number;
  /** How long `send` waits to batch more messages. */
  readonly lingerMs: number;
  /** Messages per batch at most. */
  readonly maxBatchSize: number;
}

/**
 * The producer of one provider.
 *
 * @param context The provider's driver, logger, serializer, topics and meters.
 * @param settings Size limit and batching.
 * @returns The producer.
 */
export function producer(context: MqContext, settings: ProducerSettings): Producer {
  const batches = batcher(context, settings);
  return {
    send(message, callback, options) {
      const signal = optionalSignal("send", options?.signal);
      const item = queuedItem(context, settings, message, callback, signal);
      if (signal?.aborted) {
        queueMicrotask(() => batches.settle(item, signal.reason));
        return;
      }
      batches.enqueue(item, true);
    },
    sendSync(message, options) {
      return new Promise<void>((resolve, reject) => {
        const signal = optionalSignal("send", options?.signal);
        signal?.throwIfAborted();
        const onAbort = () => reject(signal?.reason);
        batches.enqueue(
          queuedItem(context, settings, message, (error) => {
            signal?.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve();
          }, signal),
          false,
        );
        signal?.addEventListener("abort", onAbort, { once: true });
        void batches.flush();
      });
    },
    flush: batches.flush,
  };
}

/** A message waiting for its batch. */
interface Queued {
  readonly record: OutgoingRecord;
  readonly callback?: (error: Error | undefined) => void;
  /** The caller's signal: aborted before its batch leaves, the message is not sent. */
  readonly signal?: AbortSignal;
  /** The message's producer span, with an OpenTelemetry SDK registered. */
  readonly span?: OtelSpan;
}

/** A message checked, encoded and given its producer span (ended if the check fails). */
function queuedItem<T>(
  context: MqContext,
  settings: ProducerSettings,
  message: Message<T>,
  callback: ((error: Error | undefined) => void) | undefined,
  signal: AbortSignal | undefined,
): Queued {
  const span = producerSpan(context.driver.name, message?.topic, message?.key);
  try {
    return { record: toRecord(context, settings, message, span), callback, signal, span };
  } catch (error) {
    endProducerSpan(span, error);
    throw error;
  }
}

/** The queue of a producer and the batches it sends. */
interface Batcher {
  /** Queues an item; with `linger`, sends the batch when full or after `lingerMs`. */
  enqueue(item: Queued, linger: boolean): void;
  /** Sends everything queued now, after the batches already leaving. */
  flush(): Promise<void>;
  /** Tells an item's callback its outcome. */
  settle(item: Queued, error: unknown): void;
}

/** Batching: one flush at a time, in order, so messages keep the order they were sent in. */
function batcher(context: MqContext, settings: ProducerSettings): Batcher {
  const { driver, logger, topics } = context;
  const produced = context.meters?.produced;
  let queued: Queued[] = [];
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (lingerTimer !== undefined) clearTimeout(lingerTimer);
    lingerTimer = undefined;
    const taken = queued;
    queued = [];
    if (taken.length === 0) return flushing;
    flushing = flushing.then(async () => {
      const batch: Queued[] = [];
      for (const item of taken) {
        if (item.signal?.aborted) settle(item, item.signal.reason);
        else batch.push(item);
      }
      if (batch.length === 0) return;
      let error: Error | undefined;
      try {
        for (const topic of new Set(batch.map((item) => item.record.topic))) {
          await topics.ensure(topic);
        }
        await driver.produce(batch.map((item) => item.record));
      } catch (caught) {
        error = caught instanceof Error ? caught : new Error(String(caught));
      }
      if (produced) {
        const outcome = error ? "error" : "ok";
        for (const item of batch) produced.inc({ topic: item.record.topic, outcome });
      }
      for (const item of batch) {
        if (item.callback) settle(item, error);
        else {
          endProducerSpan(item.span, error);
          if (error) {
            logger.error("message could not be sent", { topic: item.record.topic, err: error });
          }
        }
      }
    });
    return flushing;
  };
  const settle = (item: Queued, error: unknown): void => {
    endProducerSpan(item.span, error);
    try {
      item.callback?.(
        error === undefined || error instanceof Error ? error : new Error(String(error)),
      );
    } catch (callbackError) {
      logger.error("send callback threw", { err: callbackError });
    }
  };
  const enqueue = (item: Queued, linger: boolean): void => {
    queued.push(item);
    if (!linger) return;
    if (queued.length >= settings.maxBatchSize) void flush();
    else lingerTimer ??= setTimeout(() => void flush(), settings.lingerMs);
  };
  return { enqueue, flush, settle };
}

/** A message checked and encoded into the record the driver stores. */
function toRecord<T>(
  context: MqContext,
  settings: ProducerSettings,
  message: Message<T>,
  span: OtelSpan | undefined,
): OutgoingRecord {
  if (message === null || typeof message !== "object") {
    throw new TypeError(`Cannot send as 'message' must be an object`);
  }
  const { topic, key, headers } = message;
  if (typeof topic !== "string" || topic.length === 0) {
    throw new TypeError(
      `Cannot send as 'topic' must be a non-empty string: current value is ${
        JSON.stringify(topic)
      }`,
    );
  }
  if (key !== undefined && typeof key !== "string") {
    throw new TypeError(
      `Cannot send to topic '${topic}' as 'key' must be a string: current value is ${String(key)}`,
    );
  }
  // Redis, Kafka and NATS would store a lone surrogate as U+FFFD: refuse it where it is text.
  const malformed = malformedText("send", "topic", topic) ??
    (key === undefined ? undefined : malformedText(`send to topic '${topic}'`, "key", key)) ??
    malformedHeader(topic, headers);
  if (malformed) throw malformed;
  const value = context.codecOf(topic).encode(
    message.value,
    `the value of a message to topic '${topic}'`,
  );
  // Outside a trace and without headers of its own, a message shares one empty header object.
  const trace = traceHeaders(span);
  const allHeaders = headers === undefined ? trace : { ...trace, ...headers };
  const size = messageBytes(value, key ?? "", allHeaders, settings.maxMessageBytes);
  if (size > settings.maxMessageBytes) {
    throw new MessageTooLargeError(topic, size, settings.maxMessageBytes);
  }
  return { topic, key, value, headers: allHeaders };
}

/** The first header name or value that is not well-formed Unicode, as an error. */
function malformedHeader(
  topic: string,
  headers: Readonly<Record<string, string>> | undefined,
): TypeError | undefined {
  for (const name in headers) {
    const value: unknown = headers[name];
    if (typeof value !== "string") {
      return new TypeError(
        `Cannot send to topic '${topic}' as 'headers.${name}' must be a string: current value is ${
          String(value)
        }`,
      );
    }
    const malformed = malformedText(`send to topic '${topic}'`, "headers", name) ??
      malformedText(`send to topic '${topic}'`, `headers.${name}`, value);
    if (malformed) return malformed;
  }
  return undefined;
}

const encoder = new TextEncoder();

/** UTF-8 size of key, value and header names and values; encoded only when the bound is too high. */
function messageBytes(
  value: string | Uint8Array,
  key: string,
  headers: Record<string, string>,
  max: number,
): number {
  const bytes = typeof value === "string" ? undefined : value.length;
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: most messages are cleared without encoding.
  let bound = (bytes ?? value.length * 3) + key.length * 3;
  for (const name in headers) bound += (name.length + headers[name].length) * 3;
  if (bound <= max) return bound;
  let exact = (bytes ?? encoder.encode(value as string).length) + encoder.encode(key).length;
  for (const name in headers) {
    exact += encoder.encode(name).length + encoder.encode(headers[name]).length;
  }
  return exact;
}
