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
import type { Codec } from "./codec.ts";
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
  const encodingOf = topicEncodings(context);
  return {
    send(message, callback, options) {
      const signal = optionalSignal("send", options?.signal);
      const span = producerSpan(context.driver.name, message?.topic, message?.key);
      const record = checkedRecord(encodingOf, settings, message, span);
      const tracking = callback || signal || span ? { callback, signal, span } : undefined;
      if (signal?.aborted) {
        queueMicrotask(() => batches.settle(tracking, signal.reason));
        return;
      }
      batches.enqueue(record, tracking, true);
    },
    sendSync(message, options) {
      return new Promise<void>((resolve, reject) => {
        const signal = optionalSignal("send", options?.signal);
        signal?.throwIfAborted();
        const onAbort = () => reject(signal?.reason);
        const span = producerSpan(context.driver.name, message?.topic, message?.key);
        const record = checkedRecord(encodingOf, settings, message, span);
        batches.enqueue(record, {
          callback: (error) => {
            signal?.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve();
          },
          signal,
          span,
        }, false);
        signal?.addEventListener("abort", onAbort, { once: true });
        void batches.flush();
      });
    },
    flush: batches.flush,
  };
}

/**
 * Who waits for a queued message: its callback, its signal, its span. A message that has none
 * (a plain `send`) has no tracking object: the queue then holds its record alone.
 */
interface Tracking {
  readonly callback?: (error: Error | undefined) => void;
  /** The caller's signal: aborted before its batch leaves, the message is not sent. */
  readonly signal?: AbortSignal;
  /** The message's producer span, with an OpenTelemetry SDK registered. */
  readonly span?: OtelSpan;
}

/** A message checked and encoded, with its producer span in the headers (ended if the check fails). */
function checkedRecord<T>(
  encodingOf: (topic: string) => TopicEncoding,
  settings: ProducerSettings,
  message: Message<T>,
  span: OtelSpan | undefined,
): OutgoingRecord {
  try {
    return toRecord(encodingOf, settings, message, span);
  } catch (error) {
    endProducerSpan(span, error);
    throw error;
  }
}

/** The queue of a producer and the batches it sends. */
interface Batcher {
  /** Queues a record; with `linger`, sends the batch when full or after `lingerMs`. */
  enqueue(record: OutgoingRecord, tracking: Tracking | undefined, linger: boolean): void;
  /** Sends everything queued now, after the batches already leaving. */
  flush(): Promise<void>;
  /** Tells a message's callback its outcome and ends its span. */
  settle(tracking: Tracking | undefined, error: unknown): void;
}

/** Queued records, and beside each its tracking (none for most). */
interface Queue {
  readonly records: OutgoingRecord[];
  /** By the index of the record; kept short (holey) until some message has tracking. */
  readonly tracking: (Tracking | undefined)[];
  /** How many tracking entries are defined, and how many carry a signal. */
  tracked: number;
  signals: number;
}

const newQueue = (): Queue => ({ records: [], tracking: [], tracked: 0, signals: 0 });

/** Batching: one flush at a time, in order, so messages keep the order they were sent in. */
function batcher(context: MqContext, settings: ProducerSettings): Batcher {
  const { driver, logger, topics } = context;
  const produced = context.meters?.produced;
  let queue = newQueue();
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (lingerTimer !== undefined) clearTimeout(lingerTimer);
    lingerTimer = undefined;
    const taken = queue;
    if (taken.records.length === 0) return flushing;
    queue = newQueue();
    flushing = flushing.then(async () => {
      const { records, tracking } = taken.signals === 0 ? taken : withoutWithdrawn(taken, settle);
      if (records.length === 0) return;
      let error: Error | undefined;
      try {
        // Batches are mostly of one topic: a Set only for topics that change.
        let previous: string | undefined;
        const distinct = new Set<string>();
        for (const record of records) {
          if (record.topic !== previous) distinct.add(previous = record.topic);
        }
        for (const topic of distinct) await topics.ensure(topic);
        await driver.produce(records);
      } catch (caught) {
        error = caught instanceof Error ? caught : new Error(String(caught));
      }
      if (produced) {
        const outcome = error ? "error" : "ok";
        for (const record of records) produced.inc({ topic: record.topic, outcome });
      }
      if (taken.tracked === 0 && error === undefined) return;
      for (let index = 0; index < records.length; index++) {
        const item = tracking[index];
        if (item?.callback) settle(item, error);
        else {
          endProducerSpan(item?.span, error);
          if (error) {
            logger.error("message could not be sent", { topic: records[index].topic, err: error });
          }
        }
      }
    });
    return flushing;
  };
  const settle = (item: Tracking | undefined, error: unknown): void => {
    if (item === undefined) return;
    endProducerSpan(item.span, error);
    try {
      item.callback?.(
        error === undefined || error instanceof Error ? error : new Error(String(error)),
      );
    } catch (callbackError) {
      logger.error("send callback threw", { err: callbackError });
    }
  };
  const enqueue = (record: OutgoingRecord, tracking: Tracking | undefined, linger: boolean) => {
    queue.records.push(record);
    if (tracking !== undefined) {
      queue.tracking[queue.records.length - 1] = tracking;
      queue.tracked++;
      if (tracking.signal !== undefined) queue.signals++;
    }
    if (!linger) return;
    if (queue.records.length >= settings.maxBatchSize) void flush();
    else lingerTimer ??= setTimeout(() => void flush(), settings.lingerMs);
  };
  return { enqueue, flush, settle };
}

/** The queue without the messages whose signal aborted before their batch left (settled here). */
function withoutWithdrawn(
  queue: Queue,
  settle: (tracking: Tracking | undefined, error: unknown) => void,
): Queue {
  const kept = newQueue();
  for (let index = 0; index < queue.records.length; index++) {
    const tracking = queue.tracking[index];
    if (tracking?.signal?.aborted) {
      settle(tracking, tracking.signal.reason);
      continue;
    }
    kept.records.push(queue.records[index]);
    if (tracking === undefined) continue;
    kept.tracking[kept.records.length - 1] = tracking;
    kept.tracked++;
    if (tracking.signal !== undefined) kept.signals++;
  }
  return kept;
}

/** How a producer encodes a topic's values, and how an error names them. */
interface TopicEncoding {
  readonly topic: string;
  readonly codec: Codec;
  readonly what: string;
}

/**
 * The encoding of a topic, kept for the topic last sent to: its name is checked, its codec looked
 * up and its error wording made once, not for every message.
 */
function topicEncodings(context: MqContext): (topic: string) => TopicEncoding {
  let last: TopicEncoding | undefined;
  return (topic) => {
    if (last?.topic === topic) return last;
    // Redis, Kafka and NATS would store a lone surrogate as U+FFFD: refuse it where it is text.
    const malformed = malformedText("send", "topic", topic);
    if (malformed) throw malformed;
    return last = {
      topic,
      codec: context.codecOf(topic),
      what: `the value of a message to topic '${topic}'`,
    };
  };
}

/** A message checked and encoded into the record the driver stores. */
function toRecord<T>(
  encodingOf: (topic: string) => TopicEncoding,
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
  const { codec, what } = encodingOf(topic);
  const malformed =
    (key === undefined || key.isWellFormed()
      ? undefined
      : malformedText(`send to topic '${topic}'`, "key", key)) ??
      malformedHeader(topic, headers);
  if (malformed) throw malformed;
  const value = codec.encode(message.value, what);
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
