/**
 * The Redis Streams mq driver: one stream per partition, consumer groups per stream, and
 * partitions shared among a group's members (see `mq_consumer.ts`).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { DriverError, type MqAdmin } from "../../mq/mod.ts";
import { memberSubscription, partitionOf } from "../../mq/driver.ts";
import type {
  DriverSubscribeOptions,
  DriverSubscription,
  MqDriver,
  OutgoingRecord,
  RecordHandler,
} from "../../mq/driver.ts";
import { bindKeyPrefix } from "../../internal/namespace.ts";
import { checkNonNegativeIntegers, Connection, type RedisOptions } from "./connection.ts";
import { script } from "./script.ts";
import { openReader, type StreamPartition, StreamsConsumer } from "./mq_consumer.ts";

/**
 * Appends entries to the stream KEYS[1], then trims it to about ARGV[1] entries; from ARGV[2],
 * four arguments per entry: key, value field (`v` or `b`), value, headers. One script per stream
 * and batch replaces an XADD per message, whose building and reply cost the client more than
 * Redis; one trim per batch costs Redis less than MAXLEN on each XADD.
 */
const xaddBatch = script(
  "xaddBatch",
  `local call, stream = redis.call, KEYS[1]
for i = 2, #ARGV, 4 do
  call('XADD', stream, '*', 'k', ARGV[i], ARGV[i + 1], ARGV[i + 2], 'h', ARGV[i + 3])
end
call('XTRIM', stream, 'MAXLEN', '~', ARGV[1])
return (#ARGV - 1) / 4`,
);
/** The arguments of one entry in {@linkcode xaddBatch}. */
const ARGS_PER_ENTRY = 4;
/** Entries one script appends at most: Redis runs nothing else while a script runs. */
const ENTRIES_PER_SCRIPT = 1000;

/** Options of {@linkcode redisMq}; the keys' namespace is mq's `keyPrefix`. */
export interface RedisMqOptions extends RedisOptions {
  /**
   * Entries kept per partition stream (approximate trimming, XTRIM MAXLEN ~ after each batch).
   * @default {100000}
   */
  readonly retention?: number;
  /**
   * How long a member that stopped heart-beating keeps its partitions (crash detection).
   * @default {3000}
   */
  readonly sessionTimeoutMs?: number;
  /**
   * How often a member renews its membership and partition ownership.
   * @default {1000}
   */
  readonly heartbeatMs?: number;
  /**
   * Replicas that must hold a batch before `send` and `flush` resolve: each partition's XADDs
   * are followed by `WAIT waitReplicas waitTimeoutMs` on the same master, and a batch fewer
   * replicas confirmed in time fails with a `DriverError` (it was written to the master and may
   * or may not survive its failure, so a retry can store it twice: at-least-once). With one
   * replica per master and `waitReplicas: 1`, a failover promotes the replica that confirmed,
   * so no acknowledged message is lost. As Redis's documentation says of WAIT, this is not
   * strong consistency: a replica promoted by an operator, or one that was not among those
   * that confirmed when there are several, can lack the message. `0` does not wait.
   * @default {0}
   */
  readonly waitReplicas?: number;
  /**
   * How long a batch waits for {@linkcode RedisMqOptions.waitReplicas}.
   * @default {1000}
   */
  readonly waitTimeoutMs?: number;
}

/** The Redis Streams mq driver, with a test hook that kills it like a crashed process. */
export interface RedisMqDriver extends MqDriver {
  /** Stops at once without acknowledging or releasing anything, as a killed process would. */
  crash(): void;
}

class RedisMq implements RedisMqDriver {
  readonly name = "redis";
  readonly admin: MqAdmin;
  readonly #connection: Connection;
  readonly #options: RedisMqOptions;
  #prefix = "mq:";
  #keyPrefix: string | undefined;
  readonly #partitionCache = new Map<string, number>();
  readonly #subscriptions = new Set<StreamsConsumer>();
  #roundRobin = 0;
  #crashed = false;

  constructor(options: RedisMqOptions) {
    this.#options = options;
    this.#connection = new Connection(
      options,
      "redisMq",
      [
        "retention",
        "sessionTimeoutMs",
        "heartbeatMs",
        "waitReplicas",
        "waitTimeoutMs",
      ] satisfies (keyof RedisMqOptions)[],
    );
    checkNonNegativeIntegers("redisMq", options, ["retention", "waitReplicas", "waitTimeoutMs"]);
    const client = () => this.#connection.client;
    this.admin = {
      createTopic: (topic, partitions) =>
        this.#call("createTopic", async () => {
          if (!Number.isSafeInteger(partitions) || partitions < 1) {
            throw new RangeError(
              `Cannot create topic '${topic}' as 'partitions' must be a positive integer: current value is ${partitions}`,
            );
          }
          return (await client().hsetnx(`${this.#prefix}topics`, topic, String(partitions))) === 1;
        }),
      partitions: (topic) => this.#call("partitions", () => this.#partitions(topic)),
      listTopics: () =>
        this.#call(
          "listTopics",
          async () => (await client().hkeys(`${this.#prefix}topics`)).sort(),
        ),
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw error instanceof DriverError || error instanceof RangeError
        ? error
        : this.#connection.driverError(operation, error);
    }
  }

  async #partitions(topic: string): Promise<number | undefined> {
    const cached = this.#partitionCache.get(topic);
    if (cached !== undefined) return cached;
    const stored = await this.#connection.client.hget(`${this.#prefix}topics`, topic);
    if (stored === null) return undefined;
    this.#partitionCache.set(topic, Number(stored));
    return Number(stored);
  }

  #stream(topic: string, partition: number): string {
    return `${this.#prefix}s:${topic}:${partition}`;
  }

  async ping(): Promise<void> {
    await this.#call("connect", () => this.#connection.connect());
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.#call("produce", async () => {
      await this.#connection.ready();
      // One pipeline; in a cluster one per stream (a pipeline there takes one slot's keys only),
      // which keeps the order of each partition's records.
      const pipelines = new Map<string, (string | number)[][]>();
      const pipelineOf = (stream: string) => {
        const key = this.#connection.isCluster ? stream : "";
        let pipeline = pipelines.get(key);
        if (pipeline === undefined) pipelines.set(key, pipeline = []);
        return pipeline;
      };
      const retention = this.#options.retention ?? 100_000;
      // Each topic's partition count once per batch, not an await per record.
      const counts = new Map<string, number>();
      for (const record of records) {
        if (counts.has(record.topic)) continue;
        const partitions = await this.#partitions(record.topic);
        if (partitions === undefined) throw new Error(`topic '${record.topic}' does not exist`);
        counts.set(record.topic, partitions);
      }
      // Each stream's entries as xaddBatch's arguments, in the order of the records.
      const entries = new Map<string, string[]>();
      for (const record of records) {
        const partitions = counts.get(record.topic)!;
        const partition = record.key === undefined
          ? this.#roundRobin++ % partitions
          : partitionOf(record.key, partitions);
        const stream = this.#stream(record.topic, partition);
        let args = entries.get(stream);
        if (args === undefined) entries.set(stream, args = []);
        args.push(
          // The key is stored with a marker character so an empty key and no key stay distinct.
          record.key === undefined ? "" : `=${record.key}`,
          // Bytes (a bytes codec) as base64 in `b`, text as it is in `v`: both come back exactly.
          typeof record.value === "string" ? "v" : "b",
          typeof record.value === "string"
            ? record.value
            : Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength)
              .toString("base64"),
          JSON.stringify(record.headers),
        );
      }
      const chunk = ENTRIES_PER_SCRIPT * ARGS_PER_ENTRY;
      for (const [stream, args] of entries) {
        for (let start = 0; start < args.length; start += chunk) {
          // EVAL, not EVALSHA: the source is small beside the entries, and a pipeline cannot
          // resend the body after a NOSCRIPT reply.
          pipelineOf(stream).push([
            "eval",
            xaddBatch.lua,
            1,
            stream,
            retention,
            ...args.slice(start, start + chunk),
          ]);
        }
      }
      const replicas = this.#options.waitReplicas ?? 0;
      const timeoutMs = this.#options.waitTimeoutMs ?? 1000;
      // WAIT in the same pipeline runs on the master that took the entries (in a cluster, the
      // pipeline goes to the node of its one slot).
      if (replicas > 0) {
        for (const pipeline of pipelines.values()) pipeline.push(["wait", replicas, timeoutMs]);
      }
      const results = await Promise.all(
        [...pipelines.values()].map((pipeline) => this.#connection.pipelined(pipeline)),
      );
      if (replicas > 0) {
        for (const result of results) {
          const confirmed = Number(result.at(-1));
          if (!(confirmed >= replicas)) {
            throw new Error(
              `only ${confirmed} of ${replicas} replicas (waitReplicas) confirmed the batch within ${timeoutMs} ms: it is on the master and may or may not survive a failover`,
            );
          }
        }
      }
    });
  }

  async subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    if (this.#connection.client.status === "wait") await this.ping();
    const partitions = await this.#joinGroup(group, topics, options.fromBeginning);
    // Opened once the topics are known to exist, so a refused subscribe leaves no connection.
    const reader = await openReader(this.#connection);
    const consumer = new StreamsConsumer({
      connection: this.#connection,
      reader,
      group,
      partitions,
      handler,
      membersKey: (topic) => `${this.#prefix}g:${group}:members:${topic}`,
      ownerKey: (partition) => `${this.#prefix}g:${group}:own:${partition}`,
      sessionTimeoutMs: this.#options.sessionTimeoutMs ?? 3000,
      heartbeatMs: this.#options.heartbeatMs ?? 1000,
    });
    return memberSubscription(consumer, this.#subscriptions);
  }

  /** The partitions of `topics`, with the group created on each stream that lacks it. */
  async #joinGroup(
    group: string,
    topics: readonly string[],
    fromBeginning: boolean,
  ): Promise<StreamPartition[]> {
    const partitions: StreamPartition[] = [];
    for (const topic of topics) {
      const count = await this.#call("subscribe", () => this.#partitions(topic));
      if (count === undefined) {
        throw new DriverError(this.name, "subscribe", new Error(`topic '${topic}' does not exist`));
      }
      for (let index = 0; index < count; index++) {
        const stream = this.#stream(topic, index);
        try {
          await this.#connection.client.xgroup(
            "CREATE",
            stream,
            group,
            fromBeginning ? "0" : "$",
            "MKSTREAM",
          );
        } catch (error) {
          if (!/BUSYGROUP/.test(String((error as Error).message))) {
            throw this.#connection.driverError("subscribe", error);
          }
        }
        partitions.push({ name: `${topic}:${index}`, topic, index, stream });
      }
    }
    return partitions;
  }

  crash(): void {
    this.#crashed = true;
    for (const subscription of this.#subscriptions) void subscription.stop(true);
    this.#subscriptions.clear();
    this.#connection.client.disconnect();
  }

  useKeyPrefix(keyPrefix: string): void {
    this.#keyPrefix = bindKeyPrefix("redisMq", this.#keyPrefix, keyPrefix);
    this.#prefix = `${keyPrefix}mq:`;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop(false)));
    this.#subscriptions.clear();
    if (!this.#crashed) await this.#connection.close();
  }
}

/**
 * Creates the Redis Streams mq driver: one stream per partition, consumer groups per stream,
 * partitions shared among members through owner keys with a TTL, and XAUTOCLAIM so the
 * unacknowledged entries of a crashed member are taken over by the next owner. Every key starts
 * with `{keyPrefix}mq:`, `keyPrefix` being mq's.
 *
 * @param options Connection, retention and failure detection.
 * @returns The driver.
 */
export function redisMq(options: RedisMqOptions = {}): MqDriver {
  return new RedisMq(options);
}
