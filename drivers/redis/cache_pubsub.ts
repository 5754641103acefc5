/**
 * The Redis cache driver's subscriber: one dedicated connection (a duplicate of the driver's),
 * opened on the first subscribe and closed with the driver, shared by every subscription of the
 * driver. Server-side SUBSCRIBE / PSUBSCRIBE are reference-counted per channel or pattern, and
 * ioredis subscribes them again after a reconnect (`autoResubscribe`).
 *
 * In a Redis Cluster the connection goes to the master of slot 0 (`Connection.pubSubNode`), where
 * the publishers send. When that connection is lost, the subscriber asks the cluster for its slot
 * map again until either the node answers again (the same connection resubscribes) or another
 * master serves slot 0 (a failover promoted its replica): it then subscribes every channel and
 * pattern on a new connection to that master and drops the old one. Pub/sub is at-most-once:
 * messages published between the loss and the resubscription (a failover's node timeout and
 * election, then one slot-map poll of at most a second) are lost, as during any outage.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { closedDriverError } from "../../cache/driver.ts";
import type { DriverMessageListener, DriverSubscription } from "../../cache/types.ts";
import type { Logger } from "../../clog/mod.ts";
import { closeClient, Connection } from "./connection.ts";

/** The longest pause between two slot-map polls while the subscriber's node is lost. */
const MAX_FOLLOW_PAUSE_MS = 1000;

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** `host:port` of a node client. */
const addressOf = (client: Redis) => `${client.options.host}:${client.options.port}`;

/** The subscriptions of one Redis cache driver, on their own connection. */
export class RedisSubscriber {
  readonly #main: Connection;
  readonly #logger: Logger | undefined;
  #connection: Connection | undefined;
  readonly #channels = new Map<string, Set<DriverMessageListener>>();
  readonly #patterns = new Map<string, Set<DriverMessageListener>>();
  /** Subscribe and unsubscribe calls, one at a time, so the counts match the server's. */
  #queue: Promise<unknown> = Promise.resolve();
  /** In a cluster, the search for slot 0's master after the subscriber's node was lost. */
  #following: Promise<void> | undefined;
  readonly #closing = new AbortController();
  #closed = false;

  constructor(main: Connection, logger: Logger | undefined) {
    this.#main = main;
    this.#logger = logger;
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** A new subscriber connection to the pub/sub node, delivering to the listeners. */
  #open(): Connection {
    // Same settings as the driver's connection, its own socket: a subscribed connection accepts
    // no other command. Without an offline queue (as on a single Redis, whose driver connection
    // has none), a subscribe during an outage fails at once instead of waiting for the node.
    const client = this.#main.subscriberClient({
      lazyConnect: true,
      autoResubscribe: true,
      enableOfflineQueue: false,
    });
    client.on("message", (channel: string, message: string) => {
      for (const listener of [...this.#channels.get(channel) ?? []]) listener(channel, message);
    });
    client.on("pmessage", (pattern: string, channel: string, message: string) => {
      for (const listener of [...this.#patterns.get(pattern) ?? []]) listener(channel, message);
    });
    // Not owned by the Connection (it would not close it): the kit's outage logging only.
    const connection = new Connection({ client, logger: this.#logger }, "redisCache subscriber");
    if (this.#main.isCluster) client.on("close", () => this.#follow(connection));
    return connection;
  }

  /** The subscriber connection, opened (and connected) on first use. */
  async #client(): Promise<Redis> {
    if (this.#connection === undefined) {
      await this.#main.ready(); // in a cluster, the node to subscribe on is known once ready
      this.#connection = this.#open();
    }
    await this.#connection.ready();
    return this.#connection.client;
  }

  /**
   * Cluster only: once `lost` (the current connection) has dropped, polls the cluster's slot map
   * until `lost` is ready again or slot 0 has another master, then moves every subscription there.
   */
  #follow(lost: Connection): void {
    if (this.#following !== undefined || this.#closed || this.#connection !== lost) return;
    this.#following = (async () => {
      for (let pauseMs = 100;; pauseMs = Math.min(pauseMs * 2, MAX_FOLLOW_PAUSE_MS)) {
        if (this.#closed || this.#connection !== lost || lost.client.status === "ready") return;
        await this.#main.refreshSlots(); // its publishes follow too
        const target = this.#main.pubSubNode();
        if (target !== this.#main.client && addressOf(target) !== addressOf(lost.client)) {
          if (await this.#moveFrom(lost)) return;
        }
        await pause(pauseMs, this.#closing.signal);
      }
    })().catch(() => {}).finally(() => {
      this.#following = undefined;
      // Lost again while the move was finishing: look again.
      const current = this.#connection;
      if (current !== undefined && current.client.status !== "ready") this.#follow(current);
    });
  }

  /**
   * Subscribes every channel and pattern on a new connection to the pub/sub node, then closes
   * `lost`; false when the new node cannot be reached (the caller polls again).
   */
  async #moveFrom(lost: Connection): Promise<boolean> {
    const next = this.#open();
    const channels = [...this.#channels.keys()];
    const patterns = [...this.#patterns.keys()];
    try {
      await next.ready();
      if (channels.length > 0) await next.client.subscribe(...channels);
      if (patterns.length > 0) await next.client.psubscribe(...patterns);
    } catch {
      await RedisSubscriber.#discard(next);
      return false;
    }
    if (this.#closed || this.#connection !== lost) {
      await RedisSubscriber.#discard(next);
      return true;
    }
    this.#connection = next;
    await RedisSubscriber.#discard(lost);
    // Names whose last listener left while the new connection subscribed them.
    const goneChannels = channels.filter((name) => !this.#channels.has(name));
    const gonePatterns = patterns.filter((name) => !this.#patterns.has(name));
    if (goneChannels.length > 0) await next.client.unsubscribe(...goneChannels).catch(() => {});
    if (gonePatterns.length > 0) await next.client.punsubscribe(...gonePatterns).catch(() => {});
    this.#logger?.info("redis cache subscriber moved to the new master of slot 0", {
      from: addressOf(lost.client),
      to: addressOf(next.client),
      channels: channels.length,
      patterns: patterns.length,
    });
    return true;
  }

  /** Closes a subscriber connection and its client. */
  static async #discard(connection: Connection): Promise<void> {
    await connection.close();
    await closeClient(connection.client);
  }

  /** Sends SUBSCRIBE or PSUBSCRIBE; again on the new connection if a move replaced the one used. */
  async #send(names: readonly string[], pattern: boolean): Promise<void> {
    for (;;) {
      const used = this.#connection;
      try {
        const client = await this.#client();
        await (pattern ? client.psubscribe(...names) : client.subscribe(...names));
        return;
      } catch (error) {
        if (this.#closed || used === undefined || this.#connection === used) throw error;
      }
    }
  }

  subscribe(
    names: readonly string[],
    pattern: boolean,
    listener: DriverMessageListener,
  ): Promise<DriverSubscription> {
    const operation = pattern ? "psubscribe" : "subscribe";
    return this.#enqueue(async () => {
      if (this.#closed) throw closedDriverError("redis", operation);
      const table = pattern ? this.#patterns : this.#channels;
      const fresh = [...new Set(names)].filter((name) => !table.has(name));
      for (const name of names) {
        const listeners = table.get(name) ?? new Set();
        listeners.add(listener);
        table.set(name, listeners);
      }
      try {
        if (fresh.length > 0) await this.#send(fresh, pattern);
      } catch (error) {
        this.#drop(table, names, listener);
        throw this.#main.driverError(operation, error);
      }
      let closing: Promise<void> | undefined;
      return { close: () => closing ??= this.#unsubscribe(names, pattern, listener) };
    });
  }

  /** Removes `listener` from `names`; returns the names nobody listens to any more. */
  #drop(
    table: Map<string, Set<DriverMessageListener>>,
    names: readonly string[],
    listener: DriverMessageListener,
  ): string[] {
    const gone: string[] = [];
    for (const name of new Set(names)) {
      const listeners = table.get(name);
      listeners?.delete(listener);
      if (listeners?.size === 0) {
        table.delete(name);
        gone.push(name);
      }
    }
    return gone;
  }

  #unsubscribe(
    names: readonly string[],
    pattern: boolean,
    listener: DriverMessageListener,
  ): Promise<void> {
    return this.#enqueue(async () => {
      const gone = this.#drop(pattern ? this.#patterns : this.#channels, names, listener);
      const client = this.#connection?.client;
      if (gone.length === 0 || client === undefined || this.#closed) return;
      try {
        await (pattern ? client.punsubscribe(...gone) : client.unsubscribe(...gone));
      } catch {
        // Redis is unreachable: delivery has stopped here already, and a message for a channel
        // nobody listens to is dropped.
      }
    });
  }

  /** Ends every subscription and closes the subscriber connection. */
  close(): Promise<void> {
    this.#closed = true;
    this.#closing.abort();
    return this.#enqueue(async () => {
      await this.#following; // a move under way ends first, so its connection is closed here
      this.#channels.clear();
      this.#patterns.clear();
      const connection = this.#connection;
      this.#connection = undefined;
      if (connection !== undefined) await RedisSubscriber.#discard(connection);
    });
  }
}
