/**
 * The Kafka driver of mq, over npm:kafkajs: idempotent producer with acks and
 * compression, consumer groups with offsets committed after the handler
 * resolved, topic admin, SASL and TLS options passed through. Keyed records go
 * to the partition every kit driver chooses (FNV-1a of the key).
 *
 * Its conformance suite runs when `KIT_KAFKA_BROKERS` is set (see compose.yaml).
 *
 * @example Cluster mode
 * ```ts ignore
 * import { mq } from "@gochat/kit";
 * import { kafkaMq } from "@gochat/kit/drivers/kafka";
 *
 * await using queue = await mq.create(mq.defaultConfig("production"), {
 *   driver: kafkaMq({ brokers: ["127.0.0.1:9092"], compression: "gzip" }),
 * });
 * ```
 *
 * @module
 */
import {
  type Admin,
  CompressionTypes,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
} from "kafkajs";
import {
  DriverError,
  type DriverSubscribeOptions,
  type DriverSubscription,
  type MqAdmin,
  type MqDriver,
  type OutgoingRecord,
  partitionOf,
  type RecordHandler,
} from "../mq/mod.ts";

/**
 * A kafkajs client the application already has, for {@linkcode KafkaMqOptions.client}. Declared
 * by the kit, not imported from kafkajs, so the kit's public types stay its own; any kafkajs
 * `Kafka` instance fits.
 */
export interface KafkaClient {
  /** Creates a producer. */
  producer(config?: object): unknown;
  /** Creates a consumer of a group. */
  consumer(config: { groupId: string }): unknown;
  /** Creates an admin client. */
  admin(): unknown;
}

/** Options of {@linkcode kafkaMq}. */
export interface KafkaMqOptions {
  /**
   * Broker addresses, `host:port`; a comma-separated string is accepted too. Needed unless
   * `client` is given.
   */
  readonly brokers?: readonly string[] | string;
  /**
   * An existing kafkajs client (`new Kafka(…)` from npm:kafkajs) to create the producer, consumers
   * and admin from, instead of one built from `brokers`, `clientId`, `tls`, `sasl` and
   * `timeoutMs`, which are then ignored. The driver closes what it created, not the client.
   */
  readonly client?: KafkaClient;
  /**
   * Client id reported to the brokers.
   * @default {"gochat-kit"}
   */
  readonly clientId?: string;
  /** TLS: `true` for the system roots, or PEM material. */
  readonly tls?: boolean | { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** SASL credentials, passed to kafkajs as they are. */
  readonly sasl?: {
    readonly mechanism: "plain" | "scram-sha-256" | "scram-sha-512";
    readonly username: string;
    readonly password: string;
  };
  /**
   * Acknowledgements a produce waits for: -1 all in-sync replicas, 1 the leader, 0 none.
   * @default {-1}
   */
  readonly acks?: -1 | 0 | 1;
  /**
   * Batch compression.
   * @default {"none"}
   */
  readonly compression?: "none" | "gzip";
  /**
   * Idempotent producer (no duplicates from producer retries; needs acks -1).
   * @default {true}
   */
  readonly idempotent?: boolean;
  /**
   * Partitions of one member processed at the same time (each still in order).
   * @default {4}
   */
  readonly concurrency?: number;
  /**
   * Connection and request timeout.
   * @default {10000}
   */
  readonly timeoutMs?: number;
}

class KafkaMq implements MqDriver {
  readonly name = "kafka";
  readonly admin: MqAdmin;
  readonly #kafka: Kafka;
  readonly #options: KafkaMqOptions;
  #producer: Producer | undefined;
  #adminClient: Admin | undefined;
  readonly #partitions = new Map<string, number>();
  readonly #subscriptions = new Set<DriverSubscription>();

  constructor(kafka: Kafka, options: KafkaMqOptions) {
    this.#kafka = kafka;
    this.#options = options;
    this.admin = {
      createTopic: (topic, partitions) =>
        this.#call(
          "createTopic",
          async () =>
            await (await this.#admin()).createTopics({
              topics: [{ topic, numPartitions: partitions }],
              waitForLeaders: true,
            }),
        ),
      partitions: (topic) => this.#call("partitions", () => this.#partitionCount(topic)),
      listTopics: () =>
        this.#call("listTopics", async () => (await (await this.#admin()).listTopics()).sort()),
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw error instanceof DriverError ? error : new DriverError(this.name, operation, error);
    }
  }

  async #admin(): Promise<Admin> {
    if (!this.#adminClient) {
      const admin = this.#kafka.admin();
      await admin.connect();
      this.#adminClient = admin;
    }
    return this.#adminClient;
  }

  async #partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.#partitions.get(topic);
    if (cached !== undefined) return cached;
    const admin = await this.#admin();
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length;
    if (count) this.#partitions.set(topic, count);
    return count;
  }

  ping(): Promise<void> {
    return this.#call("connect", async () => {
      await this.#admin();
    });
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.#call("produce", async () => {
      if (!this.#producer) {
        const idempotent = this.#options.idempotent ?? true;
        const producer = this.#kafka.producer({
          idempotent,
          maxInFlightRequests: idempotent ? 5 : undefined,
        });
        await producer.connect();
        this.#producer = producer;
      }
      const byTopic = new Map<
        string,
        { key: string | null; value: string; headers: Record<string, string>; partition?: number }[]
      >();
      for (const record of records) {
        const partitions = await this.#partitionCount(record.topic);
        if (partitions === undefined) throw new Error(`topic '${record.topic}' does not exist`);
        const messages = byTopic.get(record.topic) ?? [];
        messages.push({
          key: record.key ?? null,
          value: record.value,
          headers: { ...record.headers },
          ...(record.key === undefined ? {} : { partition: partitionOf(record.key, partitions) }),
        });
        byTopic.set(record.topic, messages);
      }
      await this.#producer.sendBatch({
        acks: this.#options.acks ?? -1,
        compression: this.#options.compression === "gzip"
          ? CompressionTypes.GZIP
          : CompressionTypes.None,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    });
  }

  subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    return this.#call("subscribe", async () => {
      const consumer = this.#kafka.consumer({ groupId: group });
      let assigned: string[] = [];
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const assignment = event.payload.memberAssignment as Record<string, number[]>;
        assigned = Object.entries(assignment).flatMap(([topic, partitions]) =>
          partitions.map((p) => `${topic}:${p}`)
        ).sort();
      });
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: options.fromBeginning });
      const decoder = new TextDecoder();
      await consumer.run({
        autoCommit: true,
        partitionsConsumedConcurrently: this.#options.concurrency ?? 4,
        // The offset is committed only after this resolves; a rejection makes kafkajs deliver it again.
        eachMessage: async ({ topic, partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            if (value !== undefined) {
              headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
            }
          }
          await handler({
            topic,
            partition,
            offset: message.offset,
            key: message.key === null ? undefined : decoder.decode(message.key),
            value: message.value === null ? "null" : decoder.decode(message.value),
            headers,
            timestamp: Number(message.timestamp),
          });
        },
      });
      let closed: Promise<void> | undefined;
      const subscription: DriverSubscription = {
        assigned: () => assigned,
        pause: () => consumer.pause(topics.map((topic) => ({ topic }))),
        resume: () => consumer.resume(topics.map((topic) => ({ topic }))),
        close: () =>
          closed ??= (async () => {
            this.#subscriptions.delete(subscription);
            await consumer.disconnect(); // waits for eachMessage in flight, commits, leaves the group
          })(),
      };
      this.#subscriptions.add(subscription);
      return subscription;
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.close()));
    await this.#producer?.disconnect();
    await this.#adminClient?.disconnect();
  }
}

/**
 * Creates the Kafka driver.
 *
 * @param options Brokers, security, acks, compression, idempotence.
 * @returns The driver; `mq.create` connects it and checks the brokers answer.
 * @throws {TypeError} When no broker is given.
 */
export function kafkaMq(options: KafkaMqOptions): MqDriver {
  if (options?.client !== undefined) {
    const client = options.client as Partial<KafkaClient> | null;
    if (
      typeof client?.producer !== "function" || typeof client.consumer !== "function" ||
      typeof client.admin !== "function"
    ) {
      throw new TypeError(
        `Cannot create Kafka driver as 'client' must be a kafkajs Kafka client: current value is ${client}`,
      );
    }
    return new KafkaMq(options.client as unknown as Kafka, options);
  }
  const brokers = typeof options?.brokers === "string"
    ? options.brokers.split(",").map((broker) => broker.trim()).filter(Boolean)
    : [...(options?.brokers ?? [])];
  if (brokers.length === 0) {
    throw new TypeError(
      "Cannot create Kafka driver as 'brokers' must name at least one host:port (or 'client' be given)",
    );
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const config: KafkaConfig = {
    clientId: options.clientId ?? "gochat-kit",
    brokers,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2 },
  };
  if (options.tls) config.ssl = options.tls === true ? true : { ...options.tls };
  if (options.sasl) config.sasl = { ...options.sasl } as KafkaConfig["sasl"];
  return new KafkaMq(new Kafka(config), options);
}
