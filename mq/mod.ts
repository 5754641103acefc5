/**
 * mq: producers and consumer groups with Kafka's semantics on every driver —
 * partitions chosen by key (order kept per key), groups whose members share
 * the partitions, offsets committed only after the handler succeeded, failed
 * messages retried with backoff and then sent to a dead-letter topic. The
 * producer writes the W3C `traceparent` and the Go kit's `X-Trace-ID` of clog's
 * trace context into the headers, and the consumer runs the handler inside the
 * trace of either.
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
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { sharedKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import { type Serializer, serializerOption } from "../internal/json.ts";
import { type Codec, codecsOption, serializerCodec } from "./codec.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import type { Metrics } from "../metrics/mod.ts";
import { type MqContext, mqMeters } from "./_context.ts";
import { type Consumer, consumers, type Subscription } from "./consumer.ts";
import { memoryMq } from "./memory.ts";
import { type Producer, producer } from "./producer.ts";
import { topics } from "./topics.ts";
import type { MqAdmin, MqDriver } from "./types.ts";

export type { Call } from "../internal/call.ts";
export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export type {
  ConsumedMessage,
  Consumer,
  Handler,
  SubscribeOptions,
  Subscription,
} from "./consumer.ts";
export { memoryMq, MemoryMqBroker } from "./memory.ts";
export type { MemoryMqDriverOptions, MemoryMqOptions } from "./memory.ts";
export { bytesCodec, type Codec, textCodec } from "./codec.ts";
export { jsonSerializer } from "../internal/json.ts";
export type { Serializer } from "../internal/json.ts";
export { outbox } from "./outbox.ts";
export type { Outbox, OutboxOptions } from "./outbox.ts";
export { MessageTooLargeError } from "./producer.ts";
export type { Message, Producer, SendOptions } from "./producer.ts";
export { UnknownTopicError } from "./topics.ts";
export type { MqAdmin } from "./types.ts";

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
   * A codec per topic, in place of the serializer: {@linkcode textCodec} (strings untouched),
   * {@linkcode bytesCodec} (bytes untouched: a Go producer's protobuf reaches the handler as a
   * `Uint8Array`, not dead-lettered as bad JSON), or your own `{ encode, decode }`.
   * Dead letters keep the original bytes.
   */
  readonly codecs?: Readonly<Record<string, Codec>>;
  /**
   * Where to record `mq_messages_produced_total{topic, outcome}` (`ok`, `error`),
   * `mq_messages_consumed_total{topic, group, outcome}` (`ok`, `retried` per failed attempt,
   * `dead_lettered`) and `mq_handler_duration_seconds{topic, group}`.
   */
  readonly metrics?: Pick<Metrics, "counter" | "histogram">;
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
  const serializer = serializerCodec(serializerOption("mq", options.serializer));
  const codecs = codecsOption(options.codecs);
  const driver: MqDriver = options.driver ?? memoryMq();
  try {
    useKeyPrefix(driver, config.keyPrefix);
    await driver.ping();
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
  const logger = options.logger ?? namespace("mq");
  const context: MqContext = {
    driver,
    logger,
    codecOf: (topic) => Object.hasOwn(codecs, topic) ? codecs[topic] : serializer,
    meters: options.metrics && mqMeters(options.metrics),
    topics: topics(driver, logger, config),
  };
  const sharedProducer = producer(context, config);
  const subscriptions = new Set<Subscription>();

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await sharedProducer.flush();
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      await driver.close();
    })();

  return {
    driver: driver.name,
    admin: driver.admin,
    producer: () => sharedProducer,
    consumer: consumers(context, config, subscriptions),
    ping: (options?: PingOptions) =>
      pingProvider("mq", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Gives the driver the config's `keyPrefix`, refused by a driver without a keyspace of its own. */
function useKeyPrefix(driver: MqDriver, configured: string | undefined): void {
  const keyPrefix = sharedKeyPrefix("mq", configured);
  if (keyPrefix === "") return;
  if (driver.useKeyPrefix === undefined && driver.name !== "memory") {
    throw new TypeError(
      `Cannot create mq on the ${driver.name} driver with 'keyPrefix' ${
        JSON.stringify(keyPrefix)
      } as the driver has no keyspace of its own: put the namespace in the topic names`,
    );
  }
  driver.useKeyPrefix?.(keyPrefix);
}
