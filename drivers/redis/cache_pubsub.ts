/**
 * The Redis cache driver's subscriber: one dedicated connection (a duplicate of the driver's),
 * opened on the first subscribe and closed with the driver, shared by every subscription of the
 * driver. Server-side SUBSCRIBE / PSUBSCRIBE are reference-counted per channel or pattern, and
 * ioredis subscribes them again after a reconnect (`autoResubscribe`).
 *
 * @module
 */
import type { Redis } from "ioredis";
import { closedDriverError } from "../../cache/driver.ts";
import type { DriverMessageListener, DriverSubscription } from "../../cache/types.ts";
import type { Logger } from "../../clog/mod.ts";
import { Connection } from "./connection.ts";

/** The subscriptions of one Redis cache driver, on their own connection. */
export class RedisSubscriber {
  readonly #main: Connection;
  readonly #logger: Logger | undefined;
  #connection: Connection | undefined;
  readonly #channels = new Map<string, Set<DriverMessageListener>>();
  readonly #patterns = new Map<string, Set<DriverMessageListener>>();
  /** Subscribe and unsubscribe calls, one at a time, so the counts match the server's. */
  #queue: Promise<unknown> = Promise.resolve();
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

  /** The subscriber connection, opened (and connected) on first use. */
  async #client(): Promise<Redis> {
    if (this.#connection === undefined) {
      // Same settings as the driver's connection, its own socket: a subscribed connection
      // accepts no other command.
      await this.#main.ready(); // in a cluster, the node to subscribe on is known once ready
      const client = this.#main.subscriberClient({ lazyConnect: true, autoResubscribe: true });
      client.on("message", (channel: string, message: string) => {
        for (const listener of [...this.#channels.get(channel) ?? []]) listener(channel, message);
      });
      client.on("pmessage", (pattern: string, channel: string, message: string) => {
        for (const listener of [...this.#patterns.get(pattern) ?? []]) listener(channel, message);
      });
      // Not owned by the Connection (it would not close it): the kit's outage logging only.
      this.#connection = new Connection(
        { client, logger: this.#logger },
        "redisCache subscriber",
      );
    }
    await this.#connection.ready();
    return this.#connection.client;
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
        if (fresh.length > 0) {
          const client = await this.#client();
          await (pattern ? client.psubscribe(...fresh) : client.subscribe(...fresh));
        }
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
    return this.#enqueue(async () => {
      this.#channels.clear();
      this.#patterns.clear();
      const connection = this.#connection;
      this.#connection = undefined;
      if (connection === undefined) return;
      await connection.close();
      const { client } = connection;
      if (client.status === "ready") await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    });
  }
}
