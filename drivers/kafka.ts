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
import { Buffer } from "node:buffer";
import {
  type Admin,
  CompressionTypes,
  Kafka,
  type KafkaConfig,
  logLevel,
  type Producer,
} from "kafkajs";
import { DriverError, type MqAdmin } from "../mq/mod.ts";
import { subscribedRoundRobin } from "./kafka/assigner.ts";
import { partitionOf } from "../mq/driver.ts";
import type {
  DriverSubscribeOptions,
  DriverSubscription,
  MqDriver,
  OutgoingRecord,
  RecordHandler,
} from "../mq/driver.ts";
import { checkConfig } from "../internal/config.ts";
import { driverError } from "../internal/errors.ts";

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
  /**
   * How long the group waits for a member's heartbeat before it reassigns its partitions. The
   * driver keeps heartbeating while a handler runs, retries and backoff included.
   * @default {30000}
   */
  readonly sessionTimeoutMs?: number;
  /**
   * Heartbeat period, while idle and while a handler runs.
   * @default {3000}
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * How long a rebalance waits for members to rejoin.
   * @default {60000}
   */
  readonly rebalanceTimeoutMs?: number;
}

/** How long a topic's partition count is trusted before it is read again. */
const PARTITIONS_TTL_MS = 60_000;

class KafkaMq implements MqDriver {
  readonly name = "kafka";
  readonly admin: MqAdmin;
  readonly #kafka: Kafka;
  readonly #options: KafkaMqOptions;
  /** Created once, shared by concurrent first uses (a flush and a dead-letter send, say). */
  #producer: Promise<Producer> | undefined;
  #adminClient: Promise<Admin> | undefined;
  readonly #partitions = new Map<string, { count: number; readAt: number }>();
  readonly #subscriptions = new Set<DriverSubscription>();
  /** Redacted from every error: the SASL password, when the driver was given it. */
  readonly #secrets: readonly string[];

  constructor(kafka: Kafka, options: KafkaMqOptions) {
    this.#kafka = kafka;
    this.#options = options;
    this.#secrets = options.sasl?.password ? [options.sasl.password] : [];
    this.admin = {
      createTopic: (topic, partitions) =>
        this.#call("createTopic", () => this.#createTopic(topic, partitions)),
      partitions: (topic) => this.#call("partitions", () => this.#partitionCount(topic)),
      listTopics: () =>
        this.#call("listTopics", async () => (await (await this.#admin()).listTopics()).sort()),
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw error instanceof DriverError ? error : this.#fail(operation, error);
    }
  }

  /**
   * A `DriverError` whose cause is a copy of the kafkajs error without credentials or request
   * details (see `scrubError`): the one way a kafkajs error leaves the driver.
   */
  #fail(operation: string, error: unknown): DriverError {
    return driverError(this.name, operation, error, this.#secrets);
  }

  #admin(): Promise<Admin> {
    return this.#adminClient ??= connected(this.#kafka.admin()).catch((error) => {
      this.#adminClient = undefined;
      throw error;
    });
  }

  #connectedProducer(): Promise<Producer> {
    return this.#producer ??= (() => {
      const idempotent = this.#options.idempotent ?? true;
      return connected(this.#kafka.producer({
        idempotent,
        maxInFlightRequests: idempotent ? 5 : undefined,
        // A topic is created by the kit with its partition count, never by the broker's defaults.
        allowAutoTopicCreation: false,
      }));
    })().catch((error) => {
      this.#producer = undefined;
      throw error;
    });
  }

  /**
   * Looks the topic up first: one that exists with at least `partitions` is fine (false), so a
   * service without the CreateTopics ACL (managed Kafka) or on a broker without that API starts
   * when its topics were made for it; one with fewer is refused, naming both counts.
   */
  async #createTopic(topic: string, partitions: number): Promise<boolean> {
    const admin = await this.#admin();
    const existing = await topicPartitions(admin, topic);
    if (existing !== undefined) {
      if (existing >= partitions) return false;
      throw new Error(
        `topic '${topic}' exists with ${existing} partitions, fewer than the ${partitions} asked`,
      );
    }
    return await admin.createTopics({
      topics: [{ topic, numPartitions: partitions }],
      waitForLeaders: true,
    });
  }

  /** A topic's partition count, read again after a minute (partitions can be added). */
  async #partitionCount(topic: string): Promise<number | undefined> {
    const cached = this.#partitions.get(topic);
    if (cached !== undefined && Date.now() - cached.readAt < PARTITIONS_TTL_MS) return cached.count;
    const admin = await this.#admin();
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const count = metadata.topics[0]?.partitions.length;
    if (count) this.#partitions.set(topic, { count, readAt: Date.now() });
    return count;
  }

  ping(): Promise<void> {
    return this.#call("connect", async () => {
      await this.#admin();
    });
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.#call("produce", async () => {
      const producer = await this.#connectedProducer();
      const byTopic = new Map<
        string,
        {
          key: string | null;
          value: string | Buffer;
          headers: Record<string, string>;
          partition?: number;
        }[]
      >();
      for (const record of records) {
        const partitions = await this.#partitionCount(record.topic);
        if (partitions === undefined) throw new Error(`topic '${record.topic}' does not exist`);
        const messages = byTopic.get(record.topic) ?? [];
        messages.push({
          key: record.key ?? null,
          value: typeof record.value === "string"
            ? record.value
            : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength),
          headers: { ...record.headers },
          ...(record.key === undefined ? {} : { partition: partitionOf(record.key, partitions) }),
        });
        byTopic.set(record.topic, messages);
      }
      try {
        await producer.sendBatch({
          acks: this.#options.acks ?? -1,
          compression: this.#options.compression === "gzip"
            ? CompressionTypes.GZIP
            : CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      } catch (error) {
        // Read the partition counts again, and start a new producer: an idempotent one whose
        // send timed out may reuse sequence numbers the broker already has, and drop the retry.
        for (const topic of byTopic.keys()) this.#partitions.delete(topic);
        if (this.#producer) {
          const failed = this.#producer;
          this.#producer = undefined;
          void failed.then((old) => old.disconnect()).catch(() => {});
        }
        throw error;
      }
    });
  }

  subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    return this.#call("subscribe", async () => {
      // Set when close() starts: a handler failing then (told to stop) must not make kafkajs
      // restart the member, which would keep consuming after the subscription closed.
      let closing = false;
      const consumer = this.#kafka.consumer({
        groupId: group,
        allowAutoTopicCreation: false,
        sessionTimeout: this.#options.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: this.#options.heartbeatIntervalMs ?? 3_000,
        rebalanceTimeout: this.#options.rebalanceTimeoutMs ?? 60_000,
        retry: { restartOnFailure: () => Promise.resolve(!closing) },
        // A topic's partitions go only to the members reading it. Offered under kafkajs's name
        // (earlier kit versions and kafkajs services in the group agree on it) and under the
        // Java and Go clients' `roundrobin`.
        partitionAssigners: [
          subscribedRoundRobin("RoundRobinAssigner"),
          subscribedRoundRobin("roundrobin"),
        ],
      });
      const heartbeatMs = this.#options.heartbeatIntervalMs ?? 3_000;
      let assigned: string[] = [];
      let paused = false;
      let joined!: () => void;
      let failed!: (error: unknown) => void;
      const firstJoin = new Promise<void>((resolve, reject) => {
        joined = resolve;
        failed = reject;
      });
      firstJoin.catch(() => {}); // awaited below; a crash before then must not go unhandled
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        const assignment = event.payload.memberAssignment as Record<string, number[]>;
        assigned = Object.entries(assignment).flatMap(([topic, partitions]) =>
          partitions.map((p) => `${topic}:${p}`)
        ).sort();
        // A restarted consumer is a new group member: it has forgotten a pause.
        if (paused) consumer.pause(topics.map((topic) => ({ topic })));
        joined();
      });
      consumer.on(consumer.events.CRASH, (event) => {
        assigned = [];
        // kafkajs restarts after a retriable crash; a crash it does not restart ends the member.
        if (!event.payload.restart) failed(event.payload.error);
      });
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...topics], fromBeginning: options.fromBeginning });
        const decoder = new TextDecoder();
        await consumer.run({
          autoCommit: true,
          partitionsConsumedConcurrently: this.#options.concurrency ?? 4,
          // The offset is committed only after this resolves; a rejection makes kafkajs deliver
          // it again.
          eachMessage: async ({ topic, partition, message, heartbeat }) => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(message.headers ?? {})) {
              if (value !== undefined) {
                headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
              }
            }
            // kafkajs heartbeats only between messages: a handler with its retries can outlast
            // the session, and the group would hand its partition to another member.
            const beating = setInterval(() => void heartbeat().catch(() => {}), heartbeatMs);
            try {
              await handler({
                topic,
                partition,
                offset: message.offset,
                key: message.key === null ? undefined : decoder.decode(message.key),
                // Bytes as they were sent: the topic's codec reads them (a protobuf stays intact).
                value: message.value === null ? "null" : new Uint8Array(message.value),
                headers,
                timestamp: Number(message.timestamp),
              });
            } finally {
              clearInterval(beating);
            }
          },
        });
        // run() resolves even when joining fails: wait until this member is in the group.
        await firstJoin;
      } catch (error) {
        await consumer.disconnect().catch(() => {});
        throw error;
      }
      const pauseState = (operation: string, pause: boolean) => {
        try {
          const partitions = topics.map((topic) => ({ topic }));
          if (pause) consumer.pause(partitions);
          else consumer.resume(partitions);
          paused = pause;
        } catch (error) {
          throw this.#fail(operation, error);
        }
      };
      let closed: Promise<void> | undefined;
      const subscription: DriverSubscription = {
        assigned: () => assigned,
        pause: () => pauseState("pause", true),
        resume: () => pauseState("resume", false),
        close: () =>
          closed ??= (async () => {
            closing = true;
            this.#subscriptions.delete(subscription);
            // Waits for eachMessage in flight, commits, leaves the group.
            await this.#call("close", () => consumer.disconnect());
          })(),
      };
      this.#subscriptions.add(subscription);
      return subscription;
    });
  }

  async close(): Promise<void> {
    // Everything is closed even when one part fails; the first failure is reported.
    const outcomes = await Promise.allSettled([
      ...[...this.#subscriptions].map((subscription) => subscription.close()),
      (async () => await (await this.#producer)?.disconnect())(),
      (async () => await (await this.#adminClient)?.disconnect())(),
    ]);
    this.#producer = this.#adminClient = undefined;
    const failure = outcomes.find((outcome) => outcome.status === "rejected");
    if (failure) {
      const reason = (failure as PromiseRejectedResult).reason;
      throw reason instanceof DriverError ? reason : this.#fail("close", reason);
    }
  }
}

/** Connects a kafkajs producer, consumer or admin client and hands it back. */
async function connected<T extends { connect(): Promise<void> }>(client: T): Promise<T> {
  await client.connect();
  return client;
}

/** Refuses option combinations kafkajs would fail on only later, at the first send or fetch. */
function checkOptions(options: KafkaMqOptions): void {
  const { acks = -1, idempotent = true, concurrency = 4 } = options;
  if (idempotent && acks !== -1) {
    throw new TypeError(
      `Cannot create Kafka driver as an idempotent producer needs 'acks' -1 (all in-sync replicas): current value is ${acks}; set 'idempotent: false' to use ${acks}`,
    );
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot create Kafka driver as 'concurrency' must be a positive integer: current value is ${concurrency}`,
    );
  }
  for (const name of ["sessionTimeoutMs", "heartbeatIntervalMs", "rebalanceTimeoutMs"] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw new RangeError(
        `Cannot create Kafka driver as '${name}' must be a positive integer: current value is ${value}`,
      );
    }
  }
}

const KAFKA_OPTIONS = [
  "brokers",
  "client",
  "clientId",
  "tls",
  "sasl",
  "acks",
  "compression",
  "idempotent",
  "concurrency",
  "timeoutMs",
  "sessionTimeoutMs",
  "heartbeatIntervalMs",
  "rebalanceTimeoutMs",
] as const satisfies readonly (keyof KafkaMqOptions)[];

/**
 * The partition count of one topic from a metadata request naming it, or undefined when the broker
 * does not know it.
 */
async function topicPartitions(admin: Admin, topic: string): Promise<number | undefined> {
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]?.partitions.length || undefined;
  } catch (error) {
    if ((error as { type?: string })?.type === "UNKNOWN_TOPIC_OR_PARTITION") return undefined;
    throw error;
  }
}

/**
 * Creates the Kafka driver.
 *
 * @param options Brokers, security, acks, compression, idempotence.
 * @returns The driver; `mq.create` connects it and checks the brokers answer.
 * @throws {TypeError} When no broker is given, or on an unknown option.
 */
export function kafkaMq(options: KafkaMqOptions): MqDriver {
  checkConfig("kafkaMq", options, KAFKA_OPTIONS, { argument: "options", noun: "option" });
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
    checkOptions(options);
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
  checkOptions(options);
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
