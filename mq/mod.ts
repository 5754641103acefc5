/**
 * mq: producers and consumer groups with Kafka's semantics on every driver —
 * partitions chosen by key (order kept per key), groups whose members share
 * the partitions, offsets committed only after the handler succeeded, failed
 * messages retried with backoff and then sent to a dead-letter topic. The
 * producer writes the W3C `traceparent` of clog's trace context into the
 * headers, and the consumer runs the handler inside that trace.
 *
 * @example Publish and consume in standalone mode
 * ```ts
 * import { mq } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using queue = await mq.create(mq.defaultConfig("development"));
 * const seen: string[] = [];
 * let done!: () => void;
 * const all = new Promise<void>((resolve) => (done = resolve));
 * const subscription = await queue.consumer("billing").subscribe(["orders"], async (message) => {
 *   seen.push(message.value as string);
 *   if (seen.length === 2) done();
 * });
 * await queue.producer().sendSync({ topic: "orders", key: "u1", value: "created" });
 * await queue.producer().sendSync({ topic: "orders", key: "u1", value: "paid" });
 * await all;
 * assert.deepEqual(seen, ["created", "paid"]);
 * await subscription.close();
 * ```
 *
 * @module
 */
import { malformedText } from "../internal/text.ts";
import { type Logger, namespace, withTrace } from "../clog/mod.ts";
import type { Call } from "../internal/call.ts";
import { checkConfig } from "../internal/config.ts";
import { sharedKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import { type Serializer, serializerOption } from "../internal/json.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { optionalSignal, sleep } from "../internal/queue.ts";
import type { Metrics } from "../metrics/mod.ts";
import { memoryMq } from "./memory.ts";
import { traceHeaders, traceOf } from "./trace.ts";
import type {
  DriverSubscription,
  IncomingRecord,
  MqAdmin,
  MqDriver,
  OutgoingRecord,
} from "./types.ts";

export type { Call } from "../internal/call.ts";
export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { memoryMq, MemoryMqBroker, MemoryMqDriver } from "./memory.ts";
export type { MemoryMqDriverOptions, MemoryMqOptions } from "./memory.ts";
export { jsonSerializer } from "../internal/json.ts";
export type { Serializer } from "../internal/json.ts";
export { outbox } from "./outbox.ts";
export type { Outbox, OutboxOptions } from "./outbox.ts";
export { partitionOf } from "./types.ts";
export type {
  DriverSubscribeOptions,
  DriverSubscription,
  IncomingRecord,
  MqAdmin,
  MqDriver,
  OutgoingRecord,
  RecordHandler,
} from "./types.ts";

/** Static settings of an mq provider. */
export interface MqConfig {
  /**
   * Largest message accepted (key, value and headers, in UTF-8 bytes).
   * @default {1048576}
   */
  readonly maxMessageBytes: number;
  /**
   * How long `send` waits to batch more messages.
   * @default {5}
   */
  readonly lingerMs: number;
  /**
   * Messages per batch at most.
   * @default {500}
   */
  readonly maxBatchSize: number;
  /**
   * Create unknown topics on first use (with `defaultPartitions`) instead of failing.
   * @default {true in development, false in production}
   */
  readonly autoCreateTopics: boolean;
  /**
   * Partitions of auto-created topics.
   * @default {3}
   */
  readonly defaultPartitions: number;
  /**
   * Extra attempts of a failing handler before the message goes to the dead-letter topic.
   * @default {3}
   */
  readonly maxRetries: number;
  /**
   * First retry delay; doubles on each attempt.
   * @default {100}
   */
  readonly retryBackoffMs: number;
  /**
   * Dead-letter topic name: the message's topic plus this suffix.
   * @default {".dlq"}
   */
  readonly deadLetterSuffix: string;
  /**
   * Namespace of the driver's keys on a shared backend: on Redis every key starts with
   * `{keyPrefix}mq:`. Topics are what services share, so services of one application give the
   * same prefix (or none); two applications on one Redis give each their own. Not given, the
   * Redis keys start with `mq:` as before. Drivers without a keyspace of their own (Kafka: name
   * the topics instead) refuse a non-empty one.
   * @default {""}
   */
  readonly keyPrefix?: string;
}

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

/**
 * A message delivered to a handler. Its {@linkcode Call} `signal` aborts when the subscription
 * closes (`close()`, its `signal`, the provider's `close()`): a handler that stops then leaves
 * its message uncommitted, to come again.
 */
export interface ConsumedMessage<T = unknown> extends Call {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset within the partition. */
  readonly offset: string;
  /** Key, if any. */
  readonly key: string | undefined;
  /** Decoded value. */
  readonly value: T;
  /** Headers, `traceparent` included. */
  readonly headers: Readonly<Record<string, string>>;
  /** When it was produced, in Unix ms. */
  readonly timestamp: number;
  /** 1 on the first delivery to the handler, 2 on the first retry, … */
  readonly attempt: number;
}

/** Handles one message; a throw or rejection retries it, then dead-letters it. */
export type Handler<T = unknown> = (message: ConsumedMessage<T>) => void | Promise<void>;

/** A running subscription. */
export interface Subscription extends AsyncDisposable {
  /** Partitions this member owns now, as `topic:partition`. */
  assigned(): string[];
  /** Stops taking new messages. */
  pause(): void;
  /** Takes messages again. */
  resume(): void;
  /**
   * Aborts the `signal` of in-flight messages, waits for their handlers (a message whose handler
   * resolved is committed, one whose handler failed comes again), then leaves the group.
   */
  close(): Promise<void>;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Where a new group starts: `earliest` (every retained message) or `latest` (only new ones).
   * @default {"earliest"}
   */
  readonly start?: "earliest" | "latest";
  /**
   * Closes the subscription when it aborts, as `close()` does: the message in hand finishes (or
   * stays uncommitted, to come again), then the member leaves the group.
   */
  readonly signal?: AbortSignal;
}

/** A consumer group member factory. */
export interface Consumer {
  /** The group. */
  readonly groupId: string;
  /** Joins the group for `topics`. */
  subscribe<T = unknown>(
    topics: readonly string[],
    handler: Handler<T>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
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

/** An mq provider. */
export interface Mq extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /** Topic administration. */
  readonly admin: MqAdmin;
  /** The provider's producer. */
  producer(): Producer;
  /** A consumer of `groupId`. */
  consumer(groupId: string): Consumer;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Flushes the producer, closes subscriptions, closes the driver. */
  close(): Promise<void>;
}

/** Dependencies of an mq provider. */
export interface CreateOptions {
  /** The backend; `memoryMq()` (standalone) by default. The provider closes it. */
  readonly driver?: MqDriver;
  /** Logger; `clog.namespace("mq")` by default. */
  readonly logger?: Logger;
  /**
   * Encoding of message values; {@linkcode jsonSerializer} by default: JSON where a bigint is an
   * integer literal with all its digits (an int64 to Go), and an integer literal beyond
   * ±(2^53 − 1) reads back as a bigint. A value the consumer's serializer cannot decode goes to
   * the dead-letter topic. The output of another serializer must be well-formed Unicode.
   */
  readonly serializer?: Serializer;
  /**
   * Where to record `mq_messages_produced_total{topic, outcome}` (`ok`, `error`),
   * `mq_messages_consumed_total{topic, group, outcome}` (`ok`, `retried` per failed attempt,
   * `dead_lettered`) and `mq_handler_duration_seconds{topic, group}`.
   */
  readonly metrics?: Pick<Metrics, "counter" | "histogram">;
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

/** A topic that does not exist while `autoCreateTopics` is off. */
export class UnknownTopicError extends Error {
  /** Stable code. */
  readonly code = "MQ_UNKNOWN_TOPIC";
  /** The topic. */
  readonly topic: string;

  /**
   * Creates the error.
   *
   * @param topic The missing topic.
   */
  constructor(topic: string) {
    super(
      `Topic '${topic}' does not exist and autoCreateTopics is off: create it with admin.createTopic`,
    );
    this.name = "UnknownTopicError";
    this.topic = topic;
  }
}

/**
 * The recommended configuration. Development creates topics on first use;
 * production expects them to exist.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): MqConfig {
  return {
    maxMessageBytes: 1_048_576,
    lingerMs: 5,
    maxBatchSize: 500,
    autoCreateTopics: requireEnv("mq", env) === "development",
    defaultPartitions: 3,
    maxRetries: 3,
    retryBackoffMs: 100,
    deadLetterSuffix: ".dlq",
  };
}

const CONFIG_KEYS = [
  "maxMessageBytes",
  "lingerMs",
  "maxBatchSize",
  "autoCreateTopics",
  "defaultPartitions",
  "maxRetries",
  "retryBackoffMs",
  "deadLetterSuffix",
  "keyPrefix",
] as const satisfies readonly (keyof MqConfig)[];

function validateConfig(config: MqConfig): void {
  checkConfig("mq", config, CONFIG_KEYS);
  for (
    const [field, min] of [
      ["maxMessageBytes", 1],
      ["lingerMs", 0],
      ["maxBatchSize", 1],
      ["defaultPartitions", 1],
      ["maxRetries", 0],
      ["retryBackoffMs", 0],
    ] as const
  ) {
    if (!Number.isSafeInteger(config[field]) || config[field] < min) {
      throw new RangeError(
        `Cannot create mq as '${field}' must be an integer of at least ${min}: current value is ${
          config[field]
        }`,
      );
    }
  }
  if (typeof config.autoCreateTopics !== "boolean") {
    throw new TypeError(
      `Cannot create mq as 'autoCreateTopics' must be a boolean: current value is ${config.autoCreateTopics}`,
    );
  }
  if (typeof config.deadLetterSuffix !== "string" || config.deadLetterSuffix.length === 0) {
    throw new TypeError(`Cannot create mq as 'deadLetterSuffix' must be a non-empty string`);
  }
}

const encoder = new TextEncoder();

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

/** UTF-8 size of key, value and header names and values; encoded only when the bound is too high. */
function messageBytes(
  value: string,
  key: string,
  headers: Record<string, string>,
  max: number,
): number {
  // A string of n UTF-16 units is at most 3n UTF-8 bytes: most messages are cleared without encoding.
  let bound = (value.length + key.length) * 3;
  for (const name in headers) bound += (name.length + headers[name].length) * 3;
  if (bound <= max) return bound;
  let exact = encoder.encode(value).length + encoder.encode(key).length;
  for (const name in headers) {
    exact += encoder.encode(name).length + encoder.encode(headers[name]).length;
  }
  return exact;
}

/**
 * Creates an mq provider.
 *
 * @param config Batching, size limit, topic creation, retries; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default) and logger.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 */
export async function create(
  config: MqConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Mq> {
  validateConfig(config);
  const serializer = serializerOption("mq", options.serializer);
  const driver: MqDriver = options.driver ?? memoryMq();
  try {
    const keyPrefix = sharedKeyPrefix("mq", config.keyPrefix);
    if (keyPrefix !== "") {
      if (driver.useKeyPrefix === undefined && driver.name !== "memory") {
        throw new TypeError(
          `Cannot create mq on the ${driver.name} driver with 'keyPrefix' ${
            JSON.stringify(keyPrefix)
          } as the driver has no keyspace of its own: put the namespace in the topic names`,
        );
      }
      driver.useKeyPrefix?.(keyPrefix);
    }
    await driver.ping();
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
  const logger = options.logger ?? namespace("mq");
  const produced = options.metrics?.counter("mq_messages_produced_total", {
    help: "Messages sent, by topic and outcome (ok, error).",
    labels: ["topic", "outcome"],
  });
  const consumed = options.metrics?.counter("mq_messages_consumed_total", {
    help: "Handler runs, by topic, group and outcome (ok, retried, dead_lettered).",
    labels: ["topic", "group", "outcome"],
  });
  const handled = options.metrics?.histogram("mq_handler_duration_seconds", {
    help: "Time a handler took, successful or not.",
    labels: ["topic", "group"],
  });
  const knownTopics = new Set<string>();

  const ensureTopic = async (topic: string): Promise<void> => {
    if (knownTopics.has(topic)) return;
    if ((await driver.admin.partitions(topic)) === undefined) {
      if (!config.autoCreateTopics) throw new UnknownTopicError(topic);
      await driver.admin.createTopic(topic, config.defaultPartitions);
      logger.info("topic created", { topic, partitions: config.defaultPartitions });
    }
    knownTopics.add(topic);
  };

  const toRecord = <T>(message: Message<T>): OutgoingRecord => {
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
        `Cannot send to topic '${topic}' as 'key' must be a string: current value is ${
          String(key)
        }`,
      );
    }
    // Redis, Kafka and NATS would store a lone surrogate as U+FFFD: refuse it where it is text.
    const malformed = malformedText("send", "topic", topic) ??
      (key === undefined ? undefined : malformedText(`send to topic '${topic}'`, "key", key)) ??
      malformedHeader(topic, headers);
    if (malformed) throw malformed;
    const value = serializer.encode(message.value, `the value of a message to topic '${topic}'`);
    // Outside a trace and without headers of its own, a message shares one empty header object.
    const trace = traceHeaders();
    const allHeaders = headers === undefined ? trace : { ...trace, ...headers };
    const size = messageBytes(value, key ?? "", allHeaders, config.maxMessageBytes);
    if (size > config.maxMessageBytes) {
      throw new MessageTooLargeError(topic, size, config.maxMessageBytes);
    }
    return { topic, key, value, headers: allHeaders };
  };

  // Batching: one flush at a time, in order, so messages keep the order they were sent in.
  let queued: {
    record: OutgoingRecord;
    callback?: (error: Error | undefined) => void;
    /** The caller's signal: aborted before its batch leaves, the message is not sent. */
    signal?: AbortSignal;
  }[] = [];
  let lingerTimer: ReturnType<typeof setTimeout> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (lingerTimer !== undefined) clearTimeout(lingerTimer);
    lingerTimer = undefined;
    const taken = queued;
    queued = [];
    if (taken.length === 0) return flushing;
    flushing = flushing.then(async () => {
      const batch: typeof taken = [];
      for (const item of taken) {
        if (item.signal?.aborted) settle(item, item.signal.reason);
        else batch.push(item);
      }
      if (batch.length === 0) return;
      let error: Error | undefined;
      try {
        for (const topic of new Set(batch.map((item) => item.record.topic))) {
          await ensureTopic(topic);
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
        else if (error) {
          logger.error("message could not be sent", { topic: item.record.topic, err: error });
        }
      }
    });
    return flushing;
  };
  const settle = (item: (typeof queued)[number], error: unknown): void => {
    try {
      item.callback?.(
        error === undefined || error instanceof Error ? error : new Error(String(error)),
      );
    } catch (callbackError) {
      logger.error("send callback threw", { err: callbackError });
    }
  };

  const producer: Producer = {
    send(message, callback, options) {
      const signal = optionalSignal("send", options?.signal);
      const item = { record: toRecord(message), callback, signal };
      if (signal?.aborted) {
        queueMicrotask(() => settle(item, signal.reason));
        return;
      }
      queued.push(item);
      if (queued.length >= config.maxBatchSize) void flush();
      else lingerTimer ??= setTimeout(() => void flush(), config.lingerMs);
    },
    sendSync(message, options) {
      return new Promise<void>((resolve, reject) => {
        const signal = optionalSignal("send", options?.signal);
        signal?.throwIfAborted();
        const onAbort = () => reject(signal?.reason);
        queued.push({
          record: toRecord(message),
          callback: (error) => {
            signal?.removeEventListener("abort", onAbort);
            if (error) reject(error);
            else resolve();
          },
          signal,
        });
        signal?.addEventListener("abort", onAbort, { once: true });
        void flush();
      });
    },
    flush,
  };

  const subscriptions = new Set<Subscription>();

  const consumer = (groupId: string): Consumer => {
    if (typeof groupId !== "string" || groupId.length === 0) {
      throw new TypeError(
        `Cannot create consumer as 'groupId' must be a non-empty string: current value is ${
          JSON.stringify(groupId)
        }`,
      );
    }
    return {
      groupId,
      async subscribe<T>(
        topics: readonly string[],
        handler: Handler<T>,
        options: SubscribeOptions = {},
      ): Promise<Subscription> {
        if (
          !Array.isArray(topics) || topics.length === 0 ||
          topics.some((topic) => typeof topic !== "string" || !topic)
        ) {
          throw new TypeError(
            `Cannot subscribe group '${groupId}' as 'topics' must be a non-empty list of topic names`,
          );
        }
        if (typeof handler !== "function") {
          throw new TypeError(
            `Cannot subscribe group '${groupId}' as 'handler' must be a function`,
          );
        }
        const signal = optionalSignal(`subscribe group '${groupId}'`, options.signal);
        signal?.throwIfAborted();
        for (const topic of topics) await ensureTopic(topic);
        // Aborted by close(): the signal of every message this subscription delivers.
        const closing = new AbortController();

        const deadLetter = async (record: IncomingRecord, error: unknown, attempts: number) => {
          const topic = record.topic + config.deadLetterSuffix;
          await ensureTopic(topic).catch(async (cause) => {
            // A dead-letter topic is created even when auto-creation is off: losing the message is worse.
            if (!(cause instanceof UnknownTopicError)) throw cause;
            await driver.admin.createTopic(topic, 1);
            knownTopics.add(topic);
          });
          const reason = error instanceof Error ? error : new Error(String(error));
          await driver.produce([{
            topic,
            key: record.key,
            value: record.value,
            headers: {
              ...record.headers,
              "x-error": reason.message.slice(0, 1000),
              "x-error-name": reason.name,
              "x-original-topic": record.topic,
              "x-original-partition": String(record.partition),
              "x-original-offset": record.offset,
              "x-consumer-group": groupId,
              "x-attempts": String(attempts),
            },
          }]);
          logger.error("message dead-lettered after its retries", {
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            deadLetterTopic: topic,
            err: reason,
          });
        };

        const deliver = async (record: IncomingRecord): Promise<void> => {
          let value: T;
          try {
            value = serializer.decode(record.value) as T;
          } catch (error) {
            return await deadLetter(
              record,
              new TypeError(`message value cannot be decoded: ${(error as Error).message}`),
              0,
            );
          }
          const trace = traceOf(record.headers);
          for (let attempt = 1;; attempt++) {
            const message: ConsumedMessage<T> = {
              topic: record.topic,
              partition: record.partition,
              offset: record.offset,
              key: record.key,
              value,
              headers: record.headers,
              timestamp: record.timestamp,
              attempt,
              signal: closing.signal,
            };
            const started = handled ? performance.now() : 0;
            const labels = { topic: record.topic, group: groupId };
            try {
              const run = () => handler(message);
              await (trace ? withTrace(trace.traceId, run, { spanId: trace.spanId }) : run());
              handled?.observe((performance.now() - started) / 1000, labels);
              consumed?.inc({ ...labels, outcome: "ok" });
              return;
            } catch (error) {
              handled?.observe((performance.now() - started) / 1000, labels);
              // Failed while closing (perhaps told to stop): not retried nor dead-lettered, not
              // committed, so the record comes again.
              if (closing.signal.aborted) throw error;
              if (attempt > config.maxRetries) {
                consumed?.inc({ ...labels, outcome: "dead_lettered" });
                return await deadLetter(record, error, attempt);
              }
              consumed?.inc({ ...labels, outcome: "retried" });
              logger.warn("handler failed; retrying", {
                topic: record.topic,
                offset: record.offset,
                attempt,
                err: error,
              });
              await sleep(Math.min(config.retryBackoffMs * 2 ** (attempt - 1), 30_000));
            }
          }
        };

        const inner: DriverSubscription = await driver.subscribe(groupId, topics, {
          fromBeginning: (options.start ?? "earliest") === "earliest",
        }, deliver);
        let closed: Promise<void> | undefined;
        const onAbort = () =>
          void close().catch((error) =>
            logger.warn("closing an aborted subscription failed", { group: groupId, err: error })
          );
        const close = (): Promise<void> =>
          closed ??= (async () => {
            closing.abort();
            signal?.removeEventListener("abort", onAbort);
            subscriptions.delete(subscription);
            await inner.close();
          })();
        const subscription: Subscription = {
          assigned: () => inner.assigned(),
          pause: () => inner.pause(),
          resume: () => inner.resume(),
          close,
          [Symbol.asyncDispose]: close,
        };
        subscriptions.add(subscription);
        if (signal?.aborted) onAbort(); // aborted while joining
        else signal?.addEventListener("abort", onAbort, { once: true });
        return subscription;
      },
    };
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await flush();
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      await driver.close();
    })();

  return {
    driver: driver.name,
    admin: driver.admin,
    producer: () => producer,
    consumer,
    ping: (options?: PingOptions) =>
      pingProvider("mq", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  };
}
