/**
 * The NATS JetStream mq driver: one stream per topic with one subject per partition, a durable
 * pull consumer per (group, partition), and partitions shared among a group's members through a
 * KV bucket (see `mq_consumer.ts`).
 *
 * @module
 */
import {
  AckPolicy,
  connect,
  type ConnectionOptions,
  DeliverPolicy,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  nanos,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
} from "nats";
import { DriverError, type MqAdmin } from "../../mq/mod.ts";
import {
  closedDriverError,
  driverError,
  memberSubscription,
  partitionOf,
} from "../../mq/driver.ts";
import type {
  DriverSubscribeOptions,
  DriverSubscription,
  MqDriver,
  OutgoingRecord,
  RecordHandler,
} from "../../mq/driver.ts";
import { bindKeyPrefix } from "../../internal/namespace.ts";
import { checkConfig } from "../../internal/config.ts";
import {
  type GroupTopic,
  JetStreamConsumer,
  KEY_HEADER,
  type StreamPartition,
  TYPE_HEADER,
} from "./mq_consumer.ts";

/** Options of {@linkcode natsMq}; the names' namespace is mq's `keyPrefix`. */
export interface NatsMqOptions {
  /** Server addresses (`nats://host:4222` or `host:port`); a comma-separated string is accepted. */
  readonly servers: string | readonly string[];
  /** User name, with `pass`. */
  readonly user?: string;
  /** Password, with `user`. */
  readonly pass?: string;
  /** Authentication token (instead of `user`/`pass`). */
  readonly token?: string;
  /**
   * How long a member that stopped heart-beating keeps its partitions (crash detection); also the
   * durable consumers' ack wait, renewed while a handler runs.
   * @default {3000}
   */
  readonly sessionTimeoutMs?: number;
  /**
   * How often a member renews its membership and partition ownership.
   * @default {1000}
   */
  readonly heartbeatMs?: number;
  /**
   * Connection and JetStream request timeout.
   * @default {10000}
   */
  readonly timeoutMs?: number;
}

/** The NATS JetStream mq driver, with a test hook that kills it like a crashed process. */
export interface NatsMqDriver extends MqDriver {
  /** Stops at once without acknowledging or releasing anything, as a killed process would. */
  crash(): void;
}

const NATS_OPTIONS = [
  "servers",
  "user",
  "pass",
  "token",
  "sessionTimeoutMs",
  "heartbeatMs",
  "timeoutMs",
] as const satisfies readonly (keyof NatsMqOptions)[];

/** JetStream API error codes the driver branches on. */
const STREAM_NOT_FOUND = 10059;
const CONSUMER_NOT_FOUND = 10014;
const STREAM_NAME_IN_USE = 10058;

function apiErrorCode(error: unknown): number | undefined {
  return (error as { api_error?: { err_code?: number } })?.api_error?.err_code;
}

/**
 * A name JetStream accepts (letters, digits, `-`) that maps back to `text`: every other character
 * becomes `_` and the hex of its UTF-8 bytes.
 */
export function encodeName(text: string): string {
  let name = "";
  for (const char of text) {
    if (/^[A-Za-z0-9-]$/.test(char)) name += char;
    else {
      for (const byte of new TextEncoder().encode(char)) {
        name += `_${byte.toString(16).padStart(2, "0")}`;
      }
    }
  }
  return name;
}

/** The text {@linkcode encodeName} made `name` from. */
function decodeName(name: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "_") {
      bytes.push(parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

function positiveInteger(name: string, value: unknown): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 1)) {
    throw new RangeError(
      `Cannot create NATS mq driver as '${name}' must be a positive integer: current value is ${value}`,
    );
  }
}

class NatsMq implements NatsMqDriver {
  readonly name = "nats";
  readonly admin: MqAdmin;
  readonly #options: NatsMqOptions;
  readonly #servers: string[];
  readonly #secrets: string[];
  #prefix = "mq_";
  #keyPrefix: string | undefined;
  #connecting: Promise<NatsConnection> | undefined;
  #kv: Promise<KV> | undefined;
  readonly #partitionCache = new Map<string, number>();
  readonly #subscriptions = new Set<JetStreamConsumer>();
  #roundRobin = 0;
  #closed = false;

  constructor(options: NatsMqOptions, servers: string[]) {
    this.#options = options;
    this.#servers = servers;
    this.#secrets = [options.pass, options.token].filter((s): s is string => !!s);
    for (const server of servers) {
      try {
        const url = new URL(server.includes("://") ? server : `nats://${server}`);
        if (url.password) this.#secrets.push(decodeURIComponent(url.password));
        if (url.username) this.#secrets.push(decodeURIComponent(url.username));
      } catch {
        // not a URL: host:port without credentials
      }
    }
    this.admin = {
      createTopic: (topic, partitions) =>
        this.#call("createTopic", () => this.#createTopic(topic, partitions)),
      partitions: (topic) => this.#call("partitions", () => this.#partitions(topic)),
      listTopics: () =>
        this.#call("listTopics", async () => {
          const jsm = await this.#jsm();
          const topics: string[] = [];
          for await (const name of jsm.streams.names()) {
            if (name.startsWith(this.#prefix)) {
              topics.push(decodeName(name.slice(this.#prefix.length)));
            }
          }
          return topics.sort();
        }),
    };
  }

  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedDriverError(this.name, operation);
    try {
      return await fn();
    } catch (error) {
      throw error instanceof DriverError || error instanceof RangeError
        ? error
        : driverError(this.name, operation, error, this.#secrets);
    }
  }

  #connection(): Promise<NatsConnection> {
    return this.#connecting ??= (async () => {
      const { user, pass, token, timeoutMs = 10_000 } = this.#options;
      const options: ConnectionOptions = {
        servers: this.#servers,
        timeout: timeoutMs,
        name: "gochat-kit",
        ...(user !== undefined ? { user, pass } : {}),
        ...(token !== undefined ? { token } : {}),
      };
      try {
        return await connect(options);
      } catch (error) {
        this.#connecting = undefined;
        throw driverError(this.name, "connect", error, this.#secrets);
      }
    })();
  }

  async #jsm(): Promise<JetStreamManager> {
    return await (await this.#connection()).jetstreamManager({
      timeout: this.#options.timeoutMs ?? 10_000,
    });
  }

  async #js(): Promise<JetStreamClient> {
    return (await this.#connection()).jetstream({ timeout: this.#options.timeoutMs ?? 10_000 });
  }

  /** The bucket of the groups' member and owner entries, made on first use. */
  #groups(): Promise<KV> {
    return this.#kv ??= (async () => {
      const js = await this.#js();
      return await js.views.kv(`${this.#prefix}groups`, { history: 1 });
    })().catch((error) => {
      this.#kv = undefined;
      throw error;
    });
  }

  #stream(topic: string): string {
    return `${this.#prefix}${encodeName(topic)}`;
  }

  async #createTopic(topic: string, partitions: number): Promise<boolean> {
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new RangeError(
        `Cannot create topic '${topic}' as 'partitions' must be a positive integer: current value is ${partitions}`,
      );
    }
    const existing = await this.#partitions(topic);
    if (existing !== undefined) {
      if (existing >= partitions) return false;
      throw new Error(
        `topic '${topic}' exists with ${existing} partitions, fewer than the ${partitions} asked`,
      );
    }
    const stream = this.#stream(topic);
    const jsm = await this.#jsm();
    try {
      await jsm.streams.add({
        name: stream,
        subjects: Array.from({ length: partitions }, (_, i) => `${stream}.${i}`),
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
      });
    } catch (error) {
      if (apiErrorCode(error) === STREAM_NAME_IN_USE) return false; // made meanwhile elsewhere
      throw error;
    }
    this.#partitionCache.set(topic, partitions);
    return true;
  }

  async #partitions(topic: string): Promise<number | undefined> {
    const cached = this.#partitionCache.get(topic);
    if (cached !== undefined) return cached;
    const jsm = await this.#jsm();
    try {
      const info = await jsm.streams.info(this.#stream(topic));
      const count = info.config.subjects?.length ?? 0;
      this.#partitionCache.set(topic, count);
      return count;
    } catch (error) {
      if (apiErrorCode(error) === STREAM_NOT_FOUND) return undefined;
      throw error;
    }
  }

  ping(): Promise<void> {
    return this.#call("ping", async () => {
      await (await this.#jsm()).getAccountInfo();
    });
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    return this.#call("produce", async () => {
      const js = await this.#js();
      // One chain per subject keeps the order of each partition; partitions publish in parallel.
      const chains = new Map<string, Promise<unknown>>();
      for (const record of records) {
        const partitions = await this.#partitions(record.topic);
        if (partitions === undefined) throw new Error(`topic '${record.topic}' does not exist`);
        const partition = record.key === undefined
          ? this.#roundRobin++ % partitions
          : partitionOf(record.key, partitions);
        const subject = `${this.#stream(record.topic)}.${partition}`;
        const headers = natsHeaders();
        for (const [name, value] of Object.entries(record.headers)) headers.set(name, value);
        if (record.key !== undefined) headers.set(KEY_HEADER, `=${record.key}`);
        if (typeof record.value !== "string") headers.set(TYPE_HEADER, "bytes");
        const data = typeof record.value === "string"
          ? new TextEncoder().encode(record.value)
          : record.value;
        const previous = chains.get(subject) ?? Promise.resolve();
        chains.set(subject, previous.then(() => js.publish(subject, data, { headers })));
      }
      await Promise.all(chains.values());
    });
  }

  async subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    const groupTopics = await this.#call(
      "subscribe",
      () => this.#joinGroup(group, topics, options.fromBeginning),
    );
    const kv = await this.#call("subscribe", () => this.#groups());
    const consumer = new JetStreamConsumer({
      kv,
      topics: groupTopics,
      handler,
      sessionTimeoutMs: this.#options.sessionTimeoutMs ?? 3000,
      heartbeatMs: this.#options.heartbeatMs ?? 1000,
    });
    return memberSubscription(consumer, this.#subscriptions);
  }

  /** The partitions of `topics`, with the group's durable consumer made on each that lacks it. */
  async #joinGroup(
    group: string,
    topics: readonly string[],
    fromBeginning: boolean,
  ): Promise<GroupTopic[]> {
    const jsm = await this.#jsm();
    const js = await this.#js();
    const result: GroupTopic[] = [];
    for (const topic of topics) {
      const count = await this.#partitions(topic);
      if (count === undefined) throw new Error(`topic '${topic}' does not exist`);
      const stream = this.#stream(topic);
      const partitions: StreamPartition[] = [];
      for (let index = 0; index < count; index++) {
        const durable = `${encodeName(group)}__${index}`;
        try {
          await jsm.consumers.info(stream, durable);
        } catch (error) {
          if (apiErrorCode(error) !== CONSUMER_NOT_FOUND) throw error;
          await jsm.consumers.add(stream, {
            durable_name: durable,
            filter_subject: `${stream}.${index}`,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: fromBeginning ? DeliverPolicy.All : DeliverPolicy.New,
            // One record unacknowledged at a time: a partition's order holds across members.
            max_ack_pending: 1,
            ack_wait: nanos(this.#options.sessionTimeoutMs ?? 3000),
          }).catch(async (addError) => {
            // Another member made it meanwhile.
            await jsm.consumers.info(stream, durable).catch(() => {
              throw addError;
            });
          });
        }
        partitions.push({
          name: `${topic}:${index}`,
          topic,
          index,
          consumer: await js.consumers.get(stream, durable),
        });
      }
      result.push({ key: `${encodeName(group)}.${stream}`, partitions });
    }
    return result;
  }

  crash(): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions) void subscription.stop(true);
    this.#subscriptions.clear();
    void this.#connecting?.then((connection) => connection.close()).catch(() => {});
  }

  useKeyPrefix(keyPrefix: string): void {
    this.#keyPrefix = bindKeyPrefix("natsMq", this.#keyPrefix, keyPrefix);
    this.#prefix = `${encodeName(keyPrefix)}mq_`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop(false)));
    this.#subscriptions.clear();
    this.#closed = true;
    const connection = await this.#connecting?.catch(() => undefined);
    await connection?.close();
  }
}

/**
 * Creates the NATS JetStream mq driver: one stream per topic (`{keyPrefix}mq_{topic}`, one subject
 * per partition), a durable pull consumer per (group, partition) with one record unacknowledged at
 * a time, and partitions shared among a group's members through a KV bucket whose entries a
 * heartbeat renews, so a crashed member's partitions and unacknowledged record go to another
 * member after `sessionTimeoutMs`.
 *
 * @param options Servers, credentials and failure detection.
 * @returns The driver; `mq.create` connects it and checks JetStream answers.
 * @throws {TypeError} When no server is given, on bad credentials options or an unknown option.
 * @throws {RangeError} When a time is not a positive integer.
 */
export function natsMq(options: NatsMqOptions): NatsMqDriver {
  checkConfig("natsMq", options, NATS_OPTIONS, { argument: "options", noun: "option" });
  const servers = typeof options.servers === "string"
    ? options.servers.split(",").map((server) => server.trim()).filter(Boolean)
    : Array.isArray(options.servers)
    ? [...options.servers]
    : [];
  if (servers.length === 0 || servers.some((server) => typeof server !== "string" || !server)) {
    throw new TypeError(
      "Cannot create NATS mq driver as 'servers' must name at least one server (nats://host:port)",
    );
  }
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw new TypeError("Cannot create NATS mq driver as 'user' and 'pass' go together");
  }
  if (options.token !== undefined && options.user !== undefined) {
    throw new TypeError("Cannot create NATS mq driver as 'token' excludes 'user' and 'pass'");
  }
  for (const name of ["sessionTimeoutMs", "heartbeatMs", "timeoutMs"] as const) {
    positiveInteger(name, options[name]);
  }
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 3000;
  const heartbeatMs = options.heartbeatMs ?? 1000;
  if (heartbeatMs >= sessionTimeoutMs) {
    throw new RangeError(
      `Cannot create NATS mq driver as 'heartbeatMs' must be less than 'sessionTimeoutMs' (${sessionTimeoutMs}): current value is ${heartbeatMs}`,
    );
  }
  return new NatsMq(options, servers);
}
