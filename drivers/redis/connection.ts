/**
 * The connection every Redis driver shares: option checks, one ioredis client with the kit's
 * error handling (credentials scrubbed, failures described), and the script registry.
 *
 * @module
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions as IORedisOptions } from "ioredis";
import { type DriverError, driverError } from "../../cache/driver.ts";
import { type Logger, namespace } from "../../clog/mod.ts";
import { checkConfig } from "../../internal/config.ts";
import { redactMalformedUrl, scrubError } from "../../internal/redact.ts";
import type { Script } from "./script.ts";

/**
 * An ioredis client the application already has (`new Redis(…)` or `new Cluster(…)` from
 * npm:ioredis), for {@linkcode RedisOptions.client}. Declared by the kit, not imported from
 * ioredis, so the kit's public types stay its own; any ioredis `Redis` or `Cluster` fits.
 */
export interface RedisClient {
  /** ioredis's connection status (`wait`, `connecting`, `ready`, …). */
  readonly status: string;
  /** Opens a new connection with the same settings. */
  duplicate(): unknown;
  /** Runs a cached Lua script. */
  evalsha(sha: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** One seed node of a Redis Cluster, for {@linkcode RedisOptions.cluster}. */
export interface RedisClusterNode {
  /** Host name or address. */
  readonly host: string;
  /** Port. */
  readonly port: number;
}

/** Connection options shared by the Redis drivers. */
export interface RedisOptions {
  /**
   * An existing ioredis client to use instead of opening a connection from the options below,
   * which are then ignored. Its own settings apply (an offline queue, if it has one, makes calls
   * wait through an outage instead of failing at once); the driver never closes it, and
   * connections it opens from it with `duplicate()` (the mq driver's blocking reader) it closes.
   * An ioredis `Cluster` is taken as well: the drivers then work as with
   * {@linkcode RedisOptions.cluster}.
   */
  readonly client?: RedisClient;
  /**
   * The seed nodes of a Redis Cluster (any few of its nodes; the client learns the others and
   * follows slot moves and failovers). `username`, `password`, `tls`, `connectTimeoutMs` and
   * `commandTimeoutMs` apply to every node; `url`, `host`, `port`, `db` and `client` cannot be
   * combined with it. In a cluster, commands over several keys (`mget`, `mset`, `del`, `exists`)
   * are split by hash slot, one call per slot (an `mset` is then atomic per slot, not as a
   * whole), and the two keys a lock's acquire script touches share a hash tag (see `cache.ts`).
   */
  readonly cluster?: readonly RedisClusterNode[];
  /**
   * The sentinels of a Sentinel-managed primary (any few of them; the client asks them for the
   * primary named {@linkcode RedisOptions.masterName}, connects to it, and after a failover to
   * the replica they promote). `username`, `password`, `db`, `tls`, `connectTimeoutMs` and
   * `commandTimeoutMs` apply to the primary; `tls` to the sentinels as well. `url`, `host`,
   * `port`, `cluster` and `client` cannot be combined with it. While the sentinels fail the
   * primary over (their `down-after-milliseconds` and an election), calls fail at once with a
   * `DriverError` as during any outage; the client moves when the sentinels announce the new
   * primary, and also when a server it is connected to answers that it is now a read-only
   * replica.
   */
  readonly sentinels?: readonly RedisClusterNode[];
  /** The name the sentinels know the primary by; required with {@linkcode RedisOptions.sentinels}. */
  readonly masterName?: string;
  /** ACL user name for the sentinels, when they require one (their own, not the primary's). */
  readonly sentinelUsername?: string;
  /** Password for the sentinels, when they require one (their own, not the primary's). */
  readonly sentinelPassword?: string;
  /** `redis://[user:password@]host:port/db` or `rediss://…` for TLS; overrides host/port/db. */
  readonly url?: string;
  /**
   * Host name or address.
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
  /**
   * Port.
   * @default {6379}
   */
  readonly port?: number;
  /**
   * Database number.
   * @default {0}
   */
  readonly db?: number;
  /** ACL user name (Redis 6+). */
  readonly username?: string;
  /** Password. */
  readonly password?: string;
  /** `true` for TLS with defaults, or PEM material. */
  readonly tls?: boolean | {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly servername?: string;
  };
  /**
   * How long to wait for a connection.
   * @default {5000}
   */
  readonly connectTimeoutMs?: number;
  /**
   * How long Redis may leave a sent command without any reply before the connection is dropped:
   * the commands waiting on it fail with a `DriverError` and the client reconnects, so a server
   * that hangs while connected (stopped, overloaded, behind a dead link) cannot hold callers.
   * It is one timer per connection, reset by every reply (a timer per command would halve
   * pipelined throughput); the mq driver's blocking reads get their block time on top. `0` turns
   * it off.
   * @default {1000}
   */
  readonly commandTimeoutMs?: number;
  /** Where connection trouble is reported; `clog.namespace("redis")` by default. */
  readonly logger?: Logger;
}

const REDIS_OPTIONS = [
  "client",
  "cluster",
  "sentinels",
  "masterName",
  "sentinelUsername",
  "sentinelPassword",
  "url",
  "host",
  "port",
  "db",
  "username",
  "password",
  "tls",
  "connectTimeoutMs",
  "commandTimeoutMs",
  "logger",
] as const satisfies readonly (keyof RedisOptions)[];

/** Checks the connection options of `factory`, whose own options are `extraKeys`. */
function validate(options: RedisOptions, factory: string, extraKeys: readonly string[]): void {
  checkConfig(factory, options, [...REDIS_OPTIONS, ...extraKeys], {
    argument: "options",
    noun: "option",
    hints: {
      ssl: "use 'tls': true, or { ca, cert, key, servername }",
      keyPrefix:
        "set 'keyPrefix' in the config of the provider the driver is passed to (cache, once, ratelimit, mq): the one place of a provider's namespace",
    },
  });
  const client = options.client as Partial<Redis> | undefined;
  if (options.cluster !== undefined) validateNodes(options, "cluster", ["sentinels"]);
  if (options.sentinels !== undefined) validateNodes(options, "sentinels", ["cluster"]);
  if (options.sentinels === undefined) {
    for (const field of ["masterName", "sentinelUsername", "sentinelPassword"] as const) {
      if (options[field] !== undefined) {
        throw new TypeError(
          `Cannot create Redis driver as '${field}' is set without 'sentinels': give the sentinels' addresses, or remove '${field}'`,
        );
      }
    }
  } else if (typeof options.masterName !== "string" || options.masterName === "") {
    throw new TypeError(
      `Cannot create Redis driver as 'masterName' (the name the sentinels know the primary by) is required with 'sentinels': current value is ${
        JSON.stringify(options.masterName)
      }`,
    );
  }
  if (client !== undefined) {
    if (
      typeof client?.evalsha !== "function" || typeof client.duplicate !== "function" ||
      typeof client.on !== "function"
    ) {
      throw new TypeError(
        `Cannot create Redis driver as 'client' must be an ioredis Redis or Cluster client: current value is ${client}`,
      );
    }
  }
  if (options.url !== undefined && !/^rediss?:\/\//.test(options.url)) {
    throw new TypeError(
      `Cannot create Redis driver as 'url' must start with redis:// or rediss://: current value is ${
        JSON.stringify(redactMalformedUrl(String(options.url)))
      }`,
    );
  }
  checkNonNegativeIntegers("Redis", options, [
    "port",
    "db",
    "connectTimeoutMs",
    "commandTimeoutMs",
  ]);
}

/**
 * Refuses a value of `fields` in `options` (a driver's own options) that is not a non-negative
 * integer, naming the factory and the option.
 */
export function checkNonNegativeIntegers<T>(
  factory: string,
  options: T,
  fields: readonly (keyof T & string)[],
): void {
  for (const field of fields) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || (value as number) < 0)) {
      throw new RangeError(
        `Cannot create ${factory} driver as '${field}' must be a non-negative integer: current value is ${value}`,
      );
    }
  }
}

/**
 * Checks {@linkcode RedisOptions.cluster} or {@linkcode RedisOptions.sentinels} and refuses the
 * options it cannot be combined with.
 */
function validateNodes(
  options: RedisOptions,
  field: "cluster" | "sentinels",
  exclusive: readonly ("cluster" | "sentinels")[],
): void {
  const nodes = options[field] as unknown;
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new TypeError(
      `Cannot create Redis driver as '${field}' must be a non-empty array of { host, port }: current value is ${
        JSON.stringify(nodes)
      }`,
    );
  }
  for (const node of nodes) {
    if (
      typeof node?.host !== "string" || node.host === "" || !Number.isSafeInteger(node.port) ||
      node.port <= 0 || node.port > 65535
    ) {
      throw new TypeError(
        `Cannot create Redis driver as every '${field}' node must be { host, port } with a non-empty host and a port in 1..65535: current value is ${
          JSON.stringify(node)
        }`,
      );
    }
  }
  const others = [
    "client",
    "url",
    "host",
    "port",
    ...(field === "cluster" ? ["db"] : []),
    ...exclusive,
  ];
  for (const other of others as (keyof RedisOptions)[]) {
    if (options[other] !== undefined) {
      throw new TypeError(
        `Cannot create Redis driver as '${other}' cannot be combined with '${field}'${
          other === "db" ? " (a Redis Cluster has database 0 only)" : ""
        }: remove one of them`,
      );
    }
  }
}

/** `host:port` of an ioredis address, with ioredis's defaults for what it leaves out. */
function hostPort(node: { host?: string; port?: number }, defaultPort: number): string {
  return `${node.host ?? "127.0.0.1"}:${node.port ?? defaultPort}`;
}

/** Milliseconds before reconnect attempt `attempt`: 100 ms doubling up to 1 s. */
const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** attempt, 1000);

// 1 s: a healthy Redis answers in well under a millisecond and one slower command stalls every
// client anyway, while a cache or rate-limit call must give up within a request's budget.
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** ioredis's messages for a command refused or dropped because the connection is down. */
const CONNECTION_DOWN = /^(Connection is closed|Stream isn't writeable)/;

/** The commands ioredis keeps from a dropped connection to send again once it reconnects. */
interface HeldCommands {
  prevCommandQueue?: { shift(): { command: { reject(error: Error): void } } | undefined } | null;
}

/**
 * Makes a client fail the commands that were waiting for a reply when its connection dropped
 * (ioredis holds them in `prevCommandQueue` and sends them again after reconnecting): a caller
 * must not wait on a server that may never answer, nor see a command that already ran run twice.
 */
export function failHeldCommands(client: Redis): () => void {
  return () => {
    const held = (client as unknown as HeldCommands).prevCommandQueue;
    for (let item = held?.shift(); item !== undefined; item = held?.shift()) {
      item.command.reject(new Error("Connection is closed."));
    }
  };
}

/** Every password the connection knows: each is redacted from what ioredis reports. */
function secretsOf(options: RedisOptions, client: Redis): string[] {
  const nodeOptions = (client.options as ClusterOptions | undefined)?.redisOptions;
  const secrets = [
    options.password,
    options.sentinelPassword,
    client.options?.password,
    client.options?.sentinelPassword,
    nodeOptions?.password,
  ];
  try {
    const password = options.url ? new URL(options.url).password : "";
    secrets.push(password, decodeURIComponent(password));
  } catch {
    // not a URL the WHATWG parser takes: ioredis parsed it, and its password is in client.options
  }
  return secrets.filter((secret): secret is string => typeof secret === "string" && secret !== "");
}

/** Why a connection failed, in words a caller can act on, from a scrubbed ioredis error. */
function describeFailure(error: Error, address: string, options: IORedisOptions): Error {
  const { message } = error;
  const code = (error as { code?: unknown }).code;
  let reason: string;
  if (
    /^(WRONGPASS|NOAUTH)|invalid (username-)?password|without any password configured/.test(message)
  ) {
    reason = `authentication failed at ${address} (${message})`;
  } else if (
    /^ERR_(SSL|TLS)|CERT|_SIGNED_|UNABLE_TO_/.test(String(code)) ||
    /\b(SSL|TLS|certificate)\b|handshake|InvalidContentType/i.test(message)
  ) {
    reason = `TLS handshake failed at ${address}: ${message}`;
  } else if (code === "ECONNREFUSED") {
    reason = `connection refused at ${address}`;
  } else if (code === "ETIMEDOUT" && options.tls !== undefined) {
    reason =
      `TLS connection to ${address} timed out: no TLS session within ${options.connectTimeout} ms ` +
      "(a port that does not speak TLS, or a host that does not answer)";
  } else if (code === "ETIMEDOUT") {
    reason = `connection to ${address} timed out: no answer within ${options.connectTimeout} ms`;
  } else if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    reason = `cannot resolve the host of ${address}`;
  } else if (/^Socket timeout/.test(message)) {
    reason = `no reply from ${address} within ${options.socketTimeout} ms (commandTimeoutMs)`;
  } else {
    reason = `connection to ${address} failed: ${message}`;
  }
  return new Error(reason, { cause: error });
}

/** One ioredis connection with the kit's error handling and script registry. */
export class Connection {
  /**
   * The client: a `Redis`, or a `Cluster` typed as one (the command API the drivers use is the
   * same; where it differs, {@linkcode isCluster} tells).
   */
  readonly client: Redis;
  /** Whether {@linkcode client} is a Redis Cluster client. */
  readonly isCluster: boolean;
  /** Whether the client is the driver's own (opened, and so closed, by it). */
  readonly #owned: boolean;
  readonly #logger: Logger;
  readonly #listeners: [string, (error?: Error) => void][];
  readonly #secrets: readonly string[];
  /** The last sentinel that failed to name the primary, for a failure's description. */
  #sentinelError: Error | undefined;
  #outage = false;
  /** Why the connection is down, scrubbed and described; cleared once it is ready again. */
  #failure: Error | undefined;

  constructor(options: RedisOptions, factory: string, extraKeys: readonly string[] = []) {
    validate(options, factory, extraKeys);
    this.#logger = options.logger ?? namespace("redis");
    this.#owned = options.client === undefined;
    this.client = options.client as unknown as Redis ?? Connection.#open(options);
    this.isCluster = (this.client as { isCluster?: boolean }).isCluster === true;
    this.#secrets = secretsOf(options, this.client);
    const reportOutage = (error?: Error) => {
      if (error !== undefined) this.#failure = this.#describe(error);
      if (this.#outage) return;
      this.#outage = true;
      this.#logger.warn(
        "redis connection lost; reconnecting",
        this.#failure ? { address: this.address, err: this.#failure } : { address: this.address },
      );
    };
    // Without an "error" listener ioredis prints every failed reconnect itself.
    this.#listeners = [
      ["error", reportOutage],
      ["reconnecting", () => reportOutage()],
      ["sentinelError", (error?: Error) => void (this.#sentinelError = error)],
      ["ready", () => {
        this.#failure = undefined;
        if (!this.#outage) return;
        this.#outage = false;
        this.#logger.info("redis connection restored");
      }],
    ];
    for (const [event, listener] of this.#listeners) this.client.on(event, listener);
    // An application's client keeps its own settings, resending included.
    if (this.#owned) this.client.on("reconnecting", failHeldCommands(this.client));
  }

  /** `host:port` (or the socket path) of the server, for messages: never the credentials. */
  get address(): string {
    if (this.isCluster) {
      const nodes = (this.client as unknown as { startupNodes?: unknown[] }).startupNodes ?? [];
      return `cluster ${
        nodes.map((node) =>
          typeof node === "object" && node !== null
            ? hostPort(node as Partial<RedisClusterNode>, 6379)
            : String(node)
        ).join(",")
      }`;
    }
    const { path, sentinels, name } = this.client.options ?? {};
    if (sentinels?.length) {
      return `primary '${name}' of sentinels ${
        sentinels.map((node) => hostPort(node, 26379)).join(",")
      }`;
    }
    return path ? String(path) : hostPort(this.client.options ?? {}, 6379);
  }

  /** An ioredis connection error, scrubbed of credentials and saying which failure it was. */
  #describe(error: Error): Error {
    const scrubbed = scrubError(error, this.#secrets) as Error;
    if (/^All sentinels are unreachable/.test(scrubbed.message)) {
      // ioredis says "unreachable" also when every sentinel answered but knew no such primary.
      const unknown = /got an invalid reply: null|No such master/.test(
        String(this.#sentinelError?.message),
      );
      return new Error(
        unknown
          ? `the sentinels answer but none knows the ${this.address} (check 'masterName')`
          : `no sentinel could tell the ${this.address}: ${
            this.#sentinelError?.message ?? scrubbed.message
          }`,
        { cause: scrubbed },
      );
    }
    return describeFailure(scrubbed, this.address, this.nodeOptions);
  }

  /**
   * The one way an ioredis error leaves the Redis drivers: without credentials (see
   * `scrubError`), and for a command refused because the connection is down, the failure that
   * brought it down (wrong password, TLS, refused port …) with the address.
   */
  scrub(error: unknown): unknown {
    if (CONNECTION_DOWN.test(String((error as Error)?.message))) {
      return this.#failure ?? new Error(
        `not connected to ${this.address}: ${(error as Error).message}`,
        { cause: scrubError(error, this.#secrets) },
      );
    }
    return scrubError(error, this.#secrets);
  }

  /** A `DriverError` for `operation` from what ioredis threw, through {@linkcode scrub}. */
  driverError(operation: string, error: unknown): DriverError {
    return driverError("redis", operation, this.scrub(error));
  }

  /** The options of the client's connections: a cluster's are those of each node. */
  get nodeOptions(): IORedisOptions {
    return (this.isCluster
      ? (this.client.options as unknown as ClusterOptions).redisOptions
      : this.client.options) ?? {};
  }

  /**
   * A new client with the same settings and `overrides` (per node, in a cluster): the mq
   * driver's blocking reader and the cache driver's subscriber.
   */
  duplicate(overrides: IORedisOptions): Redis {
    if (!this.isCluster) return this.client.duplicate(overrides);
    const { lazyConnect, enableAutoPipelining, ...perNode } = overrides;
    const cluster = this.client as unknown as Cluster;
    return cluster.duplicate([], {
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
      redisOptions: perNode,
    }) as unknown as Redis;
  }

  /**
   * The node pub/sub goes through: the client itself on a single Redis; in a cluster the master
   * of slot 0 at the time of asking. A cluster forwards every PUBLISH to all its nodes, but the
   * count it answers is of the subscribers on the node it was sent to, and two nodes may pass
   * one publisher's messages on out of order: with publishers and subscribers on one node, the
   * count and the order are as on a single Redis. After a failover the subscriber moves to the
   * new master (see `cache_pubsub.ts`); a publisher whose slot map still names a master it no
   * longer knows asks the cluster for the map again, and meanwhile publishes through another
   * master (every message still reaches every subscriber).
   */
  pubSubNode(): Redis {
    if (!this.isCluster) return this.client;
    const cluster = this.client as unknown as Cluster;
    const key = cluster.slots[0]?.[0];
    const masters = cluster.nodes("master");
    const node = masters.find(({ options }) => `${options.host}:${options.port}` === key);
    if (node !== undefined) return node;
    void this.refreshSlots();
    return masters[0] ?? this.client;
  }

  /**
   * A new connection for subscriptions with the client's settings and `overrides`: a duplicate
   * of the client on a single Redis, a connection to {@linkcode pubSubNode} in a cluster. The
   * connection must be ready.
   */
  subscriberClient(overrides: IORedisOptions): Redis {
    if (!this.isCluster) return this.client.duplicate(overrides);
    const { host, port } = this.pubSubNode().options;
    return new Redis({ ...this.nodeOptions, ...overrides, host, port });
  }

  static #open(options: RedisOptions): Redis {
    if (options.cluster !== undefined) return Connection.#openCluster(options);
    const settings: IORedisOptions = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 6379,
      db: options.db ?? 0,
      ...Connection.#shared(options),
    };
    if (options.sentinels !== undefined) {
      const { host: _host, port: _port, ...rest } = settings;
      return new Redis({
        ...rest,
        sentinels: options.sentinels.map(({ host, port }) => ({ host, port })),
        name: options.masterName,
        sentinelUsername: options.sentinelUsername,
        sentinelPassword: options.sentinelPassword,
        ...(settings.tls ? { enableTLSForSentinelMode: true, sentinelTLS: settings.tls } : {}),
        // Every sentinel unreachable: ask again with the primary's backoff.
        sentinelRetryStrategy: reconnectDelay,
        // Sentinels announce +switch-master: reconnect to the new primary at once.
        failoverDetector: true,
        // A primary demoted to a replica (a partition healed, a manual failover) answers writes
        // with READONLY: reconnect through the sentinels instead of failing every write.
        reconnectOnError: (error) => /^READONLY/.test(error.message) ? 1 : false,
      });
    }
    return options.url ? new Redis(options.url, settings) : new Redis(settings);
  }

  static #openCluster(options: RedisOptions): Redis {
    const { lazyConnect, enableAutoPipelining, retryStrategy, enableOfflineQueue, ...perNode } =
      Connection.#shared(options);
    const settings: ClusterOptions = {
      lazyConnect,
      enableAutoPipelining,
      enableOfflineQueue,
      // Reconnecting to the seed nodes after the whole cluster was lost, as a node's client does.
      clusterRetryStrategy: retryStrategy,
      // A failover takes the cluster-node-timeout and an election: commands sent meanwhile wait
      // for the new slot map a short while (the offline queue is off, so never unbounded).
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      redisOptions: perNode,
    };
    return new Cluster(
      options.cluster!.map(({ host, port }) => ({ host, port })),
      settings,
    ) as unknown as Redis;
  }

  /** The settings of every connection, a node of a cluster's included. */
  static #shared(options: RedisOptions): IORedisOptions {
    const settings: IORedisOptions = {
      username: options.username,
      password: options.password,
      lazyConnect: true,
      enableAutoPipelining: true,
      // Fail fast while disconnected instead of queueing callers until Redis returns.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // ioredis's per-command timer (commandTimeout) would halve pipelined throughput.
      socketTimeout: (options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS) || undefined,
      retryStrategy: reconnectDelay,
    };
    if (options.tls) {
      settings.tls = options.tls === true ? {} : { ...options.tls };
    }
    return settings;
  }

  #connecting: Promise<void> | undefined;

  /** Connects (once, however many callers ask at the same time) and checks that Redis answers. */
  connect(): Promise<void> {
    return this.#connecting ??= (async () => {
      try {
        const status = this.client.status;
        if (status === "wait" && this.client.options?.sentinels?.length) {
          // Asking the sentinels is retried for as long as none of them can tell the primary
          // (so a long outage never ends the client): the first failed round fails the caller.
          this.client.connect().catch(() => {});
          await this.#readyEvent().catch((error) => {
            throw this.#failure ?? error;
          });
        } else if (status === "wait") await this.client.connect();
        else if (status === "connecting" || status === "connect") await this.#readyEvent();
        await this.client.ping();
      } finally {
        this.#connecting = undefined;
      }
    })();
  }

  /** An application's client may still be connecting: wait for it, or for its failure. */
  #readyEvent(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (error?: Error) => {
        this.client.off("ready", done);
        this.client.off("error", done);
        this.client.off("end", done);
        if (error !== undefined || this.client.status !== "ready") {
          reject(error ?? new Error(`the client's connection ended (${this.client.status})`));
        } else resolve();
      };
      this.client.once("ready", done);
      this.client.once("error", done);
      this.client.once("end", done);
    });
  }

  /** {@linkcode connect}, failing with a DriverError: a driver's `ping()`. */
  ping(): Promise<void> {
    return this.connect().catch((error) => {
      throw this.driverError("ping", error);
    });
  }

  /** Resolves at once when connected; otherwise connects first. */
  ready(): Promise<void> {
    return this.client.status === "ready" ? Promise.resolve() : this.connect();
  }

  /** Runs `target` by its SHA, sending the source again when Redis has forgotten it. */
  runScript(
    target: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    return this.client.evalsha(target.sha, keys.length, ...keys, ...args).catch((error: Error) => {
      if (!/NOSCRIPT/.test(String(error?.message))) throw error;
      // Redis lost its script cache (restart, SCRIPT FLUSH): EVAL sends the body and caches it again.
      return this.client.eval(target.lua, keys.length, ...keys, ...args);
    });
  }

  /**
   * Runs `target` and then `WAIT replicas timeoutMs` in one pipeline, so on the node that ran it
   * (in a cluster, the node of the keys' one slot); the script's result and how many replicas
   * confirmed. EVAL, not EVALSHA: a pipeline cannot send the body again after NOSCRIPT.
   */
  async runScriptAndWait(
    target: Script,
    keys: readonly string[],
    args: readonly (string | number)[],
    replicas: number,
    timeoutMs: number,
  ): Promise<{ result: unknown; confirmed: number }> {
    const [result, confirmed] = await this.pipelined([
      ["eval", target.lua, keys.length, ...keys, ...args],
      ["wait", replicas, timeoutMs],
    ]);
    return { result, confirmed: Number(confirmed) };
  }

  /**
   * Sends `commands` in one pipeline and returns their replies; the first failed one throws. In
   * a cluster, a pipeline refused by its node because the slot moved (MOVED, ASK, TRYAGAIN,
   * CLUSTERDOWN: nothing ran) is sent again, up to twice, after the slot map is asked for anew:
   * ioredis does neither itself when a keyless command in the pipeline (WAIT) did run.
   */
  async pipelined(commands: readonly (readonly (string | number)[])[]): Promise<unknown[]> {
    for (let attempt = 0;; attempt++) {
      const replies = await this.client.pipeline(commands.map((command) => [...command])).exec() ??
        [];
      const failed = replies.find(([error]) => error);
      if (failed === undefined) return replies.map(([, reply]) => reply);
      const moved = replies.every(([error]) =>
        !error || /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message)
      );
      if (!this.isCluster || !moved || attempt === 2) throw failed[0];
      await this.refreshSlots();
    }
  }

  /** In a cluster, asks it for the slot map again (resolves however that ends). */
  refreshSlots(): Promise<void> {
    if (!this.isCluster) return Promise.resolve();
    const cluster = this.client as unknown as Cluster;
    return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
  }

  /** Closes the connection if the driver opened it; an application's client is only let go. */
  async close(): Promise<void> {
    if (!this.#owned) {
      for (const [event, listener] of this.#listeners) this.client.off(event, listener);
      return;
    }
    await closeClient(this.client);
  }
}

/**
 * Closes an ioredis client: QUIT when connected, so replies in flight arrive, then disconnect(),
 * which also ends what QUIT leaves open (a reconnect in progress, and with `sentinels` the
 * failover detector's subscriptions to every sentinel).
 */
export async function closeClient(client: Redis): Promise<void> {
  if (client.status === "ready") await client.quit().catch(() => {});
  client.disconnect();
}
