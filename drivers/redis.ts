/**
 * Redis drivers over npm:ioredis. `redisCache()` is the cache driver;
 * `redisLock()` is the cache's lock on its own, for services that need a lock
 * but no etcd and no cache provider; `redisMq()` is the mq driver on Redis Streams; `redisRateLimit()` the rate-limit driver; `redisOnce()` the once driver.
 *
 * Commands are auto-pipelined; while Redis is unreachable they fail at once
 * with a `DriverError` naming the operation (no offline queue that would hang
 * callers), and the client reconnects by itself. Lua runs only through one
 * script registry (EVALSHA, falling back to EVAL when Redis does not know it).
 *
 * @example The one-line switch to Redis
 * ```ts ignore
 * import { cache } from "@gochat/kit";
 * import { redisCache } from "@gochat/kit/drivers/redis";
 *
 * // keyPrefix: the service's namespace, required on a shared backend.
 * await using c = await cache.create({ ...cache.defaultConfig("production"), keyPrefix: "im-logic" }, {
 *   driver: redisCache({ url: "redis://127.0.0.1:6379" }),
 * });
 * ```
 *
 * @module
 */
import { Redis, type RedisOptions as IORedisOptions } from "ioredis";
import { createHash } from "node:crypto";
import {
  type CacheDriver,
  type CacheLock,
  type CacheLockService,
  cacheLockService,
  DriverError,
  keyspace,
  MAX_TIMER_MS,
  requireTtl,
  unsafeIncrementError,
  WrongTypeError,
  type ZMember,
} from "../cache/mod.ts";
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { bindKeyPrefix } from "../internal/namespace.ts";
import { sleep } from "../internal/queue.ts";
import { redactMalformedUrl, scrubError } from "../internal/redact.ts";
import type { BeginResult, OnceDriver, OnceOutcome } from "../once/mod.ts";
import { type Decision, decision, type RateLimitDriver, type Rule } from "../ratelimit/mod.ts";
import {
  type DriverSubscribeOptions,
  type DriverSubscription,
  type IncomingRecord,
  type MqAdmin,
  type MqDriver,
  type OutgoingRecord,
  partitionOf,
  type RecordHandler,
} from "../mq/mod.ts";

/**
 * An ioredis client the application already has (`new Redis(…)` from npm:ioredis), for
 * {@linkcode RedisOptions.client}. Declared by the kit, not imported from ioredis, so the kit's
 * public types stay its own; any ioredis `Redis` instance fits.
 */
export interface RedisClient {
  /** ioredis's connection status (`wait`, `connecting`, `ready`, …). */
  readonly status: string;
  /** Opens a new connection with the same settings. */
  duplicate(): unknown;
  /** Runs a cached Lua script. */
  evalsha(sha: string, numberOfKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/** Connection options shared by the Redis drivers. */
export interface RedisOptions {
  /**
   * An existing ioredis client to use instead of opening a connection from the options below,
   * which are then ignored. Its own settings apply (an offline queue, if it has one, makes calls
   * wait through an outage instead of failing at once); the driver never closes it, and
   * connections it opens from it with `duplicate()` (the mq driver's blocking reader) it closes.
   * A Redis Cluster client is refused: lock, once and mq scripts touch several keys in one call.
   */
  readonly client?: RedisClient;
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

interface Script {
  readonly name: string;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}

/** Every Lua script the kit runs on Redis, in one place. */
const SCRIPTS = {
  lockAcquire: script(
    "lockAcquire",
    `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return false`,
  ),
  lockRenew: script(
    "lockRenew",
    `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return tonumber(ARGV[2]) end
return 0`,
  ),
  // GCRA (the same decisions as a token bucket) on Redis's own clock (TIME), mirroring
  // ratelimit/types.ts decide(). KEYS[1] bucket, holding when it is full again (Unix ms);
  // ARGV: rate, burst, cost. Returns the microseconds until the bucket is full again, after
  // taking when allowed (>= 0), or as it stands, negated minus one, when rejected (< 0).
  // Expiry: the key expires at the end of the 5 s slot after the one its value falls in, so it
  // outlives the time it is full again by 5-10 s. A value written in the same slot as the one
  // it replaces keeps the TTL (no expiry update on most calls); a new slot sets PXAT again.
  rateLimit: script(
    "rateLimit",
    `local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local interval = 1000 / ARGV[1]
local stored = tonumber(redis.call('GET', KEYS[1]))
local fullAt = now
if stored and stored > now then fullAt = stored end
local nxt = fullAt + ARGV[3] * interval
if nxt - now > ARGV[2] * interval + 1e-3 then return -math.floor((fullAt - now) * 1000) - 1 end
local slot = math.floor(nxt / 5000)
if stored and math.floor(stored / 5000) == slot then
  redis.call('SET', KEYS[1], nxt, 'KEEPTTL')
else
  redis.call('SET', KEYS[1], nxt, 'PXAT', (slot + 2) * 5000)
end
return math.floor((nxt - now) * 1000)`,
  ),
  // once: one hash per key with token, fp (fingerprint), status (running | ok | error), payload.
  onceBegin: script(
    "onceBegin",
    `if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fp', ARGV[2], 'status', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'acquired', '', ''}
end
local v = redis.call('HMGET', KEYS[1], 'status', 'fp', 'payload')
return {v[1] or 'running', v[2] or '', v[3] or ''}`,
  ),
  onceRenew: script(
    "onceRenew",
    `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] and redis.call('HGET', KEYS[1], 'status') == 'running' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(ARGV[2])
end
return 0`,
  ),
  onceComplete: script(
    "onceComplete",
    `if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'payload', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`,
  ),
  onceAbandon: script(
    "onceAbandon",
    `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  ),
  lockRelease: script(
    "lockRelease",
    `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  ),
  // Cache counters stay safe integers (what a JS number holds exactly): a result beyond ±(2^53-1)
  // is undone (exact int64 arithmetic) and refused. The comparison on Lua's double is exact: a
  // result beyond the bound never rounds back within it. The result goes back as text, since
  // ioredis 6 misreads integer replies within 57 of 2^53 (it adds the digit before its offset).
  cacheIncrBy: script(
    "cacheIncrBy",
    `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return redis.error_reply('KIT_UNSAFE_INTEGER')
end
return string.format('%.0f', n)`,
  ),
  cacheHincrBy: script(
    "cacheHincrBy",
    `local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n > 9007199254740991 or n < -9007199254740991 then
  -- The delta negated as text: a Lua number could reach Redis in exponent notation.
  local back = string.sub(ARGV[2], 1, 1) == '-' and string.sub(ARGV[2], 2) or '-' .. ARGV[2]
  if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], ARGV[1], back) end
  return redis.error_reply('KIT_UNSAFE_INTEGER')
end
return string.format('%.0f', n)`,
  ),
} as const;

const REDIS_OPTIONS = [
  "client",
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
  const client = options.client as Partial<Redis> & { isCluster?: boolean } | undefined;
  if (client !== undefined) {
    if (client?.isCluster === true) {
      throw new TypeError(
        "Cannot create Redis driver as 'client' is a Redis Cluster client, which the kit does not support (its scripts touch several keys in one call)",
      );
    }
    if (
      typeof client?.evalsha !== "function" || typeof client.duplicate !== "function" ||
      typeof client.on !== "function"
    ) {
      throw new TypeError(
        `Cannot create Redis driver as 'client' must be an ioredis Redis client: current value is ${client}`,
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
  for (const field of ["port", "db", "connectTimeoutMs", "commandTimeoutMs"] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new RangeError(
        `Cannot create Redis driver as '${field}' must be a non-negative integer: current value is ${value}`,
      );
    }
  }
}

// 1 s: a healthy Redis answers in well under a millisecond and one slower command stalls every
// client anyway, while a cache or rate-limit call must give up within a request's budget.
const DEFAULT_COMMAND_TIMEOUT_MS = 1000;
/** How long the mq driver's XREADGROUP blocks waiting for entries. */
const READ_BLOCK_MS = 200;
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
function failHeldCommands(client: Redis): () => void {
  return () => {
    const held = (client as unknown as HeldCommands).prevCommandQueue;
    for (let item = held?.shift(); item !== undefined; item = held?.shift()) {
      item.command.reject(new Error("Connection is closed."));
    }
  };
}

/** Every password the connection knows: each is redacted from what ioredis reports. */
function secretsOf(options: RedisOptions, client: Redis): string[] {
  const secrets = [options.password, client.options?.password];
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
class Connection {
  readonly client: Redis;
  /** Whether the client is the driver's own (opened, and so closed, by it). */
  readonly #owned: boolean;
  readonly #logger: Logger;
  readonly #listeners: [string, (error?: Error) => void][];
  readonly #secrets: readonly string[];
  #outage = false;
  /** Why the connection is down, scrubbed and described; cleared once it is ready again. */
  #failure: Error | undefined;

  constructor(options: RedisOptions, factory: string, extraKeys: readonly string[] = []) {
    validate(options, factory, extraKeys);
    this.#logger = options.logger ?? namespace("redis");
    this.#owned = options.client === undefined;
    this.client = options.client as unknown as Redis ?? Connection.#open(options);
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
    const { host, port, path } = this.client.options ?? {};
    return path ? String(path) : `${host ?? "127.0.0.1"}:${port ?? 6379}`;
  }

  /** An ioredis connection error, scrubbed of credentials and saying which failure it was. */
  #describe(error: Error): Error {
    return describeFailure(
      scrubError(error, this.#secrets) as Error,
      this.address,
      this.client.options ?? {},
    );
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
    return new DriverError("redis", operation, this.scrub(error));
  }

  static #open(options: RedisOptions): Redis {
    const settings: IORedisOptions = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 6379,
      db: options.db ?? 0,
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
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1000),
    };
    if (options.tls) {
      settings.tls = options.tls === true ? {} : { ...options.tls };
    }
    return options.url ? new Redis(options.url, settings) : new Redis(settings);
  }

  #connecting: Promise<void> | undefined;

  /** Connects (once, however many callers ask at the same time) and checks that Redis answers. */
  connect(): Promise<void> {
    return this.#connecting ??= (async () => {
      try {
        const status = this.client.status;
        if (status === "wait") await this.client.connect();
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

  async close(): Promise<void> {
    if (!this.#owned) {
      for (const [event, listener] of this.#listeners) this.client.off(event, listener);
      return;
    }
    if (this.client.status === "ready") {
      await this.client.quit().catch(() => this.client.disconnect());
    } else {
      this.client.disconnect();
    }
  }
}

function members(reply: string[]): ZMember[] {
  const result: ZMember[] = [];
  for (let i = 0; i < reply.length; i += 2) {
    result.push({ member: reply[i], score: Number(reply[i + 1]) });
  }
  return result;
}

const orUndefined = <T>(value: T | null): T | undefined => value === null ? undefined : value;

class RedisCacheDriver implements CacheDriver {
  readonly name = "redis";
  readonly #connection: Connection;
  readonly #client: Redis;

  constructor(connection: Connection) {
    this.#connection = connection;
    this.#client = connection.client;
  }

  /** Translates an ioredis error into the kit's: WrongTypeError, RangeError or DriverError. */
  #translate(operation: string, key: string, error: unknown): Error {
    const message = String((error as Error)?.message);
    if (message.startsWith("WRONGTYPE")) return new WrongTypeError(key, operation);
    if (/not an integer|not a valid float/.test(message)) {
      return new RangeError(
        `Cannot run ${operation} on key '${key}' as its value is not an integer`,
        { cause: this.#connection.scrub(error) },
      );
    }
    return this.#connection.driverError(operation, error);
  }

  #call<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return fn().catch((error) => {
        throw this.#translate(operation, key, error);
      });
    } catch (error) {
      return Promise.reject(this.#translate(operation, key, error));
    }
  }

  ping(): Promise<void> {
    return this.#call("ping", "", () => this.#connection.connect());
  }

  getDecoded<T>(key: string, decode: (text: string) => T): Promise<T | undefined> {
    // The hottest call: one promise hop for the read, the decoding and the error translation.
    return this.#client.get(key).then(
      (text) => text === null ? undefined : decode(text),
      (error) => {
        throw this.#translate("get", key, error);
      },
    );
  }
  get(key: string): Promise<string | undefined> {
    return this.#client.get(key).then(orUndefined, (error) => {
      throw this.#translate("get", key, error);
    });
  }
  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#call("set", key, async () => {
      if (ttlMs) await this.#client.set(key, value, "PX", ttlMs);
      else await this.#client.set(key, value);
    });
  }
  setNX(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.#call(
      "setNX",
      key,
      async () =>
        (ttlMs
          ? await this.#client.set(key, value, "PX", ttlMs, "NX")
          : await this.#client.set(key, value, "NX")) === "OK",
    );
  }
  getSet(key: string, value: string): Promise<string | undefined> {
    return this.#call(
      "getSet",
      key,
      async () => orUndefined(await this.#client.set(key, value, "GET")),
    );
  }
  incrBy(key: string, delta: number): Promise<number> {
    return this.#increment("incrBy", SCRIPTS.cacheIncrBy, key, [delta]);
  }
  /** INCRBY or HINCRBY through its script, which refuses a result beyond the safe integers. */
  #increment(
    operation: string,
    target: Script,
    key: string,
    args: (string | number)[],
    field?: string,
  ): Promise<number> {
    return this.#connection.runScript(target, [key], args).then(Number, (error) => {
      // The script's refusal, or Redis's own int64 overflow on a value another client stored.
      throw /KIT_UNSAFE_INTEGER|would overflow/.test(String(error?.message))
        ? unsafeIncrementError(key, field)
        : this.#translate(operation, key, error);
    });
  }
  exists(keys: readonly string[]): Promise<number> {
    return this.#call("exists", keys[0], () => this.#client.exists(...keys));
  }
  del(keys: readonly string[]): Promise<number> {
    return this.#call("del", keys[0], () => this.#client.del(...keys));
  }
  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#call("expire", key, async () => (await this.#client.pexpire(key, ttlMs)) === 1);
  }
  ttl(key: string): Promise<number> {
    return this.#call("ttl", key, () => this.#client.pttl(key));
  }
  mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#call(
      "mget",
      keys[0],
      async () => (await this.#client.mget(...keys)).map(orUndefined),
    );
  }
  mset(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void> {
    return this.#call("mset", entries[0]?.[0] ?? "", async () => {
      const transaction = this.#client.multi();
      for (const [key, value] of entries) {
        if (ttlMs) transaction.set(key, value, "PX", ttlMs);
        else transaction.set(key, value);
      }
      const results = await transaction.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    });
  }

  hget(key: string, field: string): Promise<string | undefined> {
    return this.#call("hget", key, async () => orUndefined(await this.#client.hget(key, field)));
  }
  hset(key: string, entries: readonly (readonly [string, string])[]): Promise<number> {
    return this.#call("hset", key, () => this.#client.hset(key, ...entries.flat()));
  }
  hgetAll(key: string): Promise<Record<string, string>> {
    return this.#call("hgetAll", key, () => this.#client.hgetall(key));
  }
  hdel(key: string, fields: readonly string[]): Promise<number> {
    return this.#call("hdel", key, () => this.#client.hdel(key, ...fields));
  }
  hexists(key: string, field: string): Promise<boolean> {
    return this.#call("hexists", key, async () => (await this.#client.hexists(key, field)) === 1);
  }
  hlen(key: string): Promise<number> {
    return this.#call("hlen", key, () => this.#client.hlen(key));
  }
  hincrBy(key: string, field: string, delta: number): Promise<number> {
    return this.#increment("hincrBy", SCRIPTS.cacheHincrBy, key, [field, delta], field);
  }

  sadd(key: string, values: readonly string[]): Promise<number> {
    return this.#call("sadd", key, () => this.#client.sadd(key, ...values));
  }
  srem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("srem", key, () => this.#client.srem(key, ...values));
  }
  smembers(key: string): Promise<string[]> {
    return this.#call("smembers", key, () => this.#client.smembers(key));
  }
  sismember(key: string, member: string): Promise<boolean> {
    return this.#call(
      "sismember",
      key,
      async () => (await this.#client.sismember(key, member)) === 1,
    );
  }
  scard(key: string): Promise<number> {
    return this.#call("scard", key, () => this.#client.scard(key));
  }

  zadd(key: string, entries: readonly ZMember[]): Promise<number> {
    return this.#call(
      "zadd",
      key,
      async () =>
        Number(
          await this.#client.zadd(key, ...entries.flatMap(({ member, score }) => [score, member])),
        ),
    );
  }
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]> {
    return this.#call("zrange", key, async () =>
      members(
        reverse
          ? await this.#client.zrevrange(key, start, stop, "WITHSCORES")
          : await this.#client.zrange(key, String(start), String(stop), "WITHSCORES"),
      ));
  }
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]> {
    return this.#call("zrangeByScore", key, async () =>
      members(
        limit === undefined
          ? await this.#client.zrangebyscore(key, min, max, "WITHSCORES")
          : await this.#client.zrangebyscore(key, min, max, "WITHSCORES", "LIMIT", 0, limit),
      ));
  }
  zrem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("zrem", key, () => this.#client.zrem(key, ...values));
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.#call("zremRangeByRank", key, () => this.#client.zremrangebyrank(key, start, stop));
  }
  zcard(key: string): Promise<number> {
    return this.#call("zcard", key, () => this.#client.zcard(key));
  }
  zcount(key: string, min: number, max: number): Promise<number> {
    return this.#call("zcount", key, () => this.#client.zcount(key, min, max));
  }
  zscore(key: string, member: string): Promise<number | undefined> {
    return this.#call("zscore", key, async () => {
      const score = await this.#client.zscore(key, member);
      return score === null ? undefined : Number(score);
    });
  }
  zincrBy(key: string, member: string, delta: number): Promise<number> {
    return this.#call(
      "zincrBy",
      key,
      async () => Number(await this.#client.zincrby(key, delta, member)),
    );
  }

  lockAcquire(
    key: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
  ): Promise<number | undefined> {
    return this.#call("lockAcquire", key, async () => {
      const fence = await this.#connection.runScript(SCRIPTS.lockAcquire, [key, fenceKey], [
        token,
        ttlMs,
      ]);
      return fence === null ? undefined : Number(fence);
    });
  }
  lockRenew(key: string, token: string, ttlMs: number): Promise<number> {
    return this.#call(
      "lockRenew",
      key,
      async () =>
        Number(await this.#connection.runScript(SCRIPTS.lockRenew, [key], [token, ttlMs])),
    );
  }
  lockRelease(key: string, token: string): Promise<boolean> {
    return this.#call(
      "lockRelease",
      key,
      async () =>
        Number(await this.#connection.runScript(SCRIPTS.lockRelease, [key], [token])) === 1,
    );
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Creates the Redis cache driver.
 *
 * @param options Connection settings.
 * @returns The driver; `cache.create` connects it and checks that Redis answers.
 * @throws {TypeError | RangeError} On invalid options.
 */
export function redisCache(options: RedisOptions = {}): CacheDriver {
  return new RedisCacheDriver(new Connection(options, "redisCache"));
}

/** Options of {@linkcode redisLock}. */
export interface RedisLockOptions extends RedisOptions {
  /**
   * Namespace of the lock keys, laid out as a cache's (`cache.keyspace`): the locks of a cache
   * provider with the same `keyPrefix`.
   * @default {""}
   */
  readonly keyPrefix?: string;
  /**
   * Default lock TTL, at most 2147483647 ms (the longest timer delay).
   * @default {10000}
   */
  readonly ttlMs?: number;
}

/** The Redis lock on its own: `acquire` and `tryAcquire`, plus `close`. */
export interface RedisLock extends CacheLockService, AsyncDisposable {
  /** Releases held locks and the connection. */
  close(): Promise<void>;
}

/**
 * Creates a Redis lock service without a cache provider: the same locks as
 * `cache.lock` (owner token, compare-and-delete unlock, renewal, fencing token, `lost`).
 *
 * @param options Connection settings, key prefix and default TTL.
 * @returns The connected lock service.
 * @throws {TypeError | RangeError} On an invalid key prefix or TTL, or an unknown option.
 * @throws {DriverError} When Redis does not answer.
 */
export async function redisLock(options: RedisLockOptions = {}): Promise<RedisLock> {
  const space = keyspace(options?.keyPrefix ?? "", "create Redis lock");
  const defaultTtlMs = requireTtl(
    "create Redis lock",
    options?.ttlMs ?? 10_000,
    false,
    MAX_TIMER_MS,
  );
  const driver = new RedisCacheDriver(new Connection(options, "redisLock", ["keyPrefix", "ttlMs"]));
  try {
    await driver.ping();
  } catch (error) {
    await driver.close();
    throw error;
  }
  const held = new Set<CacheLock>();
  const service = cacheLockService({
    driver,
    logger: options.logger ?? namespace("redis-lock"),
    keyspace: space,
    defaultTtlMs,
    held,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await Promise.all([...held].map((lock) => lock.unlock()));
      await driver.close();
    })();
  return { ...service, close, [Symbol.asyncDispose]: close };
}

/** Options of {@linkcode redisMq}; the keys' namespace is mq's `keyPrefix`. */
export interface RedisMqOptions extends RedisOptions {
  /**
   * Entries kept per partition stream (approximate trimming, XADD MAXLEN ~).
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
}

/** The Redis Streams mq driver, with a test hook that kills it like a crashed process. */
export interface RedisMqDriver extends MqDriver {
  /** Stops at once without acknowledging or releasing anything, as a killed process would. */
  crash(): void;
}

interface StreamEntry {
  id: string;
  fields: string[];
}

function entryRecord(topic: string, partition: number, entry: StreamEntry): IncomingRecord {
  const fields: Record<string, string> = {};
  for (let i = 0; i < entry.fields.length; i += 2) fields[entry.fields[i]] = entry.fields[i + 1];
  return {
    topic,
    partition,
    offset: entry.id,
    key: fields.k === undefined || fields.k === "" ? undefined : fields.k.slice(1),
    value: fields.v ?? "",
    headers: fields.h ? JSON.parse(fields.h) : {},
    timestamp: Number(entry.id.split("-")[0]),
  };
}

class RedisMq implements RedisMqDriver {
  readonly name = "redis";
  readonly admin: MqAdmin;
  readonly #connection: Connection;
  readonly #options: RedisMqOptions;
  #prefix = "mq:";
  #keyPrefix: string | undefined;
  readonly #partitionCache = new Map<string, number>();
  readonly #subscriptions = new Set<{ stop(crashed: boolean): Promise<void> }>();
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
      ] satisfies (keyof RedisMqOptions)[],
    );
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
      const pipeline = this.#connection.client.pipeline();
      const retention = this.#options.retention ?? 100_000;
      for (const record of records) {
        const partitions = await this.#partitions(record.topic);
        if (partitions === undefined) throw new Error(`topic '${record.topic}' does not exist`);
        const partition = record.key === undefined
          ? this.#roundRobin++ % partitions
          : partitionOf(record.key, partitions);
        // The key is stored with a marker character so an empty key and no key stay distinct.
        pipeline.xadd(
          this.#stream(record.topic, partition),
          "MAXLEN",
          "~",
          retention,
          "*",
          "k",
          record.key === undefined ? "" : `=${record.key}`,
          "v",
          record.value,
          "h",
          JSON.stringify(record.headers),
        );
      }
      const results = await pipeline.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
    });
  }

  async subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    if (this.#connection.client.status === "wait") await this.ping();
    const client = this.#connection.client;
    const memberId = crypto.randomUUID();
    const sessionTimeoutMs = this.#options.sessionTimeoutMs ?? 3000;
    const heartbeatMs = this.#options.heartbeatMs ?? 1000;
    const membersKey = `${this.#prefix}g:${group}:members`;
    const ownerKey = (partition: string) => `${this.#prefix}g:${group}:own:${partition}`;

    const partitions: { name: string; topic: string; index: number; stream: string }[] = [];
    for (const topic of topics) {
      const count = await this.#call("subscribe", () => this.#partitions(topic));
      if (count === undefined) {
        throw new DriverError(this.name, "subscribe", new Error(`topic '${topic}' does not exist`));
      }
      for (let index = 0; index < count; index++) {
        const stream = this.#stream(topic, index);
        try {
          await client.xgroup(
            "CREATE",
            stream,
            group,
            options.fromBeginning ? "0" : "$",
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

    // Opened once the topics are known to exist, so a refused subscribe leaves no connection.
    // XREADGROUP BLOCK holds it; its reply may take the block time on top of the timeout.
    const { socketTimeout, commandTimeout } = client.options ?? {};
    const reader = client.duplicate({
      ...(socketTimeout ? { socketTimeout: socketTimeout + READ_BLOCK_MS } : {}),
      ...(commandTimeout ? { commandTimeout: commandTimeout + READ_BLOCK_MS } : {}),
    });
    reader.on("error", () => {}); // reported by the main connection's listener
    reader.on("reconnecting", failHeldCommands(reader)); // or close() waits for Redis to return
    await reader.connect().catch((error) => {
      reader.disconnect();
      throw this.#connection.driverError("subscribe", error);
    });

    const owned = new Set<string>(); // partitions whose owner key we hold
    // When each owned partition last took over entries left pending by other members (a crashed
    // owner, or a member whose blocking read returned after it lost the partition).
    const claimedAt = new Map<string, number>();
    const busy = new Map<string, Promise<void>>(); // partition → record in flight
    let paused = false;
    let stopped = false;
    let crashed = false;

    /** Handles entries in order; acknowledgements are pipelined and all awaited before it returns. */
    const processBatch = async (
      partition: (typeof partitions)[number],
      entries: StreamEntry[],
    ): Promise<void> => {
      const acks: Promise<unknown>[] = [];
      try {
        for (const entry of entries) {
          const record = entryRecord(partition.topic, partition.index, entry);
          for (;;) {
            if (stopped || !owned.has(partition.name)) return; // not acknowledged: the next owner gets it
            try {
              await handler(record);
            } catch {
              await sleep(50);
              continue;
            }
            if (crashed) return;
            acks.push(client.xack(partition.stream, group, entry.id).catch(() => {}));
            break;
          }
        }
      } finally {
        await Promise.all(acks);
      }
    };

    const heartbeat = async (): Promise<void> => {
      const now = Date.now();
      await client.zadd(membersKey, now + sessionTimeoutMs, memberId);
      await client.zremrangebyscore(membersKey, "-inf", now);
      const members = (await client.zrange(membersKey, "0", "-1")).sort();
      const mine = new Set(
        partitions.filter((_, i) => members[i % members.length] === memberId).map((p) => p.name),
      );
      for (const partition of partitions) {
        const key = ownerKey(partition.name);
        if (mine.has(partition.name)) {
          if (owned.has(partition.name)) {
            const kept = Number(
              await this.#connection.runScript(SCRIPTS.lockRenew, [key], [
                memberId,
                sessionTimeoutMs,
              ]),
            );
            if (kept === 0) owned.delete(partition.name);
          } else if ((await client.set(key, memberId, "PX", sessionTimeoutMs, "NX")) === "OK") {
            owned.add(partition.name);
          }
        } else if (owned.has(partition.name)) {
          // Hand over: stop taking records, let the one in flight finish, then release.
          owned.delete(partition.name);
          await busy.get(partition.name);
          await this.#connection.runScript(SCRIPTS.lockRelease, [key], [memberId]);
        }
      }
    };

    const readLoop = async (): Promise<void> => {
      while (!stopped) {
        const active = partitions.filter((p) => owned.has(p.name) && !busy.has(p.name));
        if (!paused && active.length === 0 && busy.size > 0) {
          // Every owned partition is working through a batch: read again as soon as one is done.
          await Promise.race([...busy.values(), sleep(50)]);
          continue;
        }
        if (paused || active.length === 0) {
          await sleep(50);
          continue;
        }
        try {
          // Entries read but never acknowledged by others come first. Nothing of ours is in flight
          // on a partition that is not busy, so every pending entry there is an orphan.
          const now = Date.now();
          for (
            const partition of active.filter((p) =>
              now - (claimedAt.get(p.name) ?? 0) >= heartbeatMs
            )
          ) {
            let cursor = "0-0";
            const pending: StreamEntry[] = [];
            do {
              const reply = await client.xautoclaim(
                partition.stream,
                group,
                memberId,
                0,
                cursor,
                "COUNT",
                100,
              ) as [
                string,
                [string, string[] | null][],
              ];
              cursor = reply[0];
              for (const [id, fields] of reply[1]) if (fields) pending.push({ id, fields });
            } while (cursor !== "0-0");
            claimedAt.set(partition.name, now);
            if (pending.length > 0) {
              const run = processBatch(partition, pending).finally(() =>
                busy.delete(partition.name)
              );
              busy.set(partition.name, run);
            }
          }
          const ready = active.filter((p) => !busy.has(p.name));
          if (ready.length === 0) continue;
          const reply = await reader.xreadgroup(
            "GROUP",
            group,
            memberId,
            "COUNT",
            100,
            "BLOCK",
            READ_BLOCK_MS,
            "STREAMS",
            ...ready.map((p) => p.stream),
            ...ready.map(() => ">"),
          ) as [string, [string, string[]][]][] | null;
          for (const [stream, entries] of reply ?? []) {
            const partition = ready.find((p) => p.stream === stream)!;
            const batch = entries.filter(([, fields]) => fields).map(([id, fields]) => ({
              id,
              fields,
            }));
            const run = processBatch(partition, batch).finally(() => busy.delete(partition.name));
            busy.set(partition.name, run);
          }
        } catch (error) {
          if (stopped) return;
          await sleep(200);
          void error;
        }
      }
    };

    let beating = true;
    const beatLoop = (async () => {
      while (beating) {
        try {
          await heartbeat();
        } catch {
          // Redis unreachable: ownership lapses by TTL; the next beat tries again.
        }
        await sleep(heartbeatMs);
      }
    })();
    const reading = readLoop();

    const stop = async (crash: boolean): Promise<void> => {
      if (stopped) return;
      crashed = crash;
      stopped = true;
      beating = false;
      if (!crash) {
        await Promise.all(busy.values());
        await reading;
        await beatLoop;
        for (const name of owned) {
          await this.#connection.runScript(SCRIPTS.lockRelease, [ownerKey(name)], [memberId]).catch(
            () => {},
          );
        }
        await client.zrem(membersKey, memberId).catch(() => {});
      }
      reader.disconnect();
    };
    const entry = { stop };
    this.#subscriptions.add(entry);
    return {
      assigned: () => [...owned].sort(),
      pause: () => {
        paused = true;
      },
      resume: () => {
        paused = false;
      },
      close: async () => {
        this.#subscriptions.delete(entry);
        await stop(false);
      },
    };
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
export function redisMq(options: RedisMqOptions = {}): RedisMqDriver {
  return new RedisMq(options);
}

/** Options of {@linkcode redisRateLimit}; the bucket keys' namespace is ratelimit's `keyPrefix`. */
export type RedisRateLimitOptions = RedisOptions;

class RedisRateLimit implements RateLimitDriver {
  readonly name = "redis";
  readonly #connection: Connection;
  #prefix = "rl:";
  #keyPrefix: string | undefined;

  constructor(options: RedisRateLimitOptions) {
    this.#connection = new Connection(options, "redisRateLimit");
  }

  useKeyPrefix(keyPrefix: string): void {
    this.#keyPrefix = bindKeyPrefix("redisRateLimit", this.#keyPrefix, keyPrefix);
    this.#prefix = `${keyPrefix}rl:`;
  }

  take(ruleName: string, key: string, rule: Required<Rule>, cost: number): Promise<Decision> {
    // The hot path: plain promise chaining, no async wrappers. The rule name's length goes first,
    // so rule `a` with key `b:c` and rule `a:b` with key `c` are two buckets.
    const bucket = `${this.#prefix}${ruleName.length}:${ruleName}:${key}`;
    const decide = () =>
      this.#connection.runScript(SCRIPTS.rateLimit, [bucket], [rule.rate, rule.burst, cost])
        .then((reply) => {
          const micros = reply as number;
          return micros >= 0
            ? decision(rule, cost, true, micros / 1000)
            : decision(rule, cost, false, (-micros - 1) / 1000);
        });
    const pending = this.#connection.client.status === "ready"
      ? decide()
      : this.#connection.ready().then(decide);
    return pending.catch((error) => {
      throw this.#connection.driverError("take", error);
    });
  }

  ping(): Promise<void> {
    return this.#connection.ping();
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Creates the Redis rate-limit driver: one atomic Lua script per decision, on Redis's clock,
 * and every bucket key expires once full again. A bucket's key is
 * `{keyPrefix}rl:{length of the rule name}:{rule name}:{key}`, `keyPrefix` being ratelimit's.
 *
 * @param options Connection.
 * @returns The driver.
 */
export function redisRateLimit(options: RedisRateLimitOptions = {}): RateLimitDriver {
  return new RedisRateLimit(options);
}

class RedisOnce implements OnceDriver {
  readonly name = "redis";
  readonly #connection: Connection;

  constructor(options: RedisOptions) {
    this.#connection = new Connection(options, "redisOnce");
  }

  async #run(
    operation: string,
    target: Script,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> {
    try {
      await this.#connection.ready();
      return await this.#connection.runScript(target, keys, args);
    } catch (error) {
      throw this.#connection.driverError(operation, error);
    }
  }

  async begin(
    key: string,
    token: string,
    fingerprint: string,
    lockTtlMs: number,
  ): Promise<BeginResult> {
    const [status, storedFingerprint, payload] = await this.#run(
      "begin",
      SCRIPTS.onceBegin,
      [key],
      [
        token,
        fingerprint,
        lockTtlMs,
      ],
    ) as string[];
    if (status === "acquired") return { state: "acquired" };
    if (status === "running") return { state: "in-progress", fingerprint: storedFingerprint };
    return {
      state: "done",
      fingerprint: storedFingerprint,
      outcome: { status: status as "ok" | "error", payload },
    };
  }

  async renew(key: string, token: string, lockTtlMs: number): Promise<number> {
    return Number(await this.#run("renew", SCRIPTS.onceRenew, [key], [token, lockTtlMs]));
  }

  async complete(
    key: string,
    token: string,
    outcome: OnceOutcome,
    ttlMs: number,
  ): Promise<boolean> {
    return Number(
      await this.#run("complete", SCRIPTS.onceComplete, [key], [
        token,
        outcome.status,
        outcome.payload,
        ttlMs,
      ]),
    ) === 1;
  }

  async abandon(key: string, token: string): Promise<void> {
    await this.#run("abandon", SCRIPTS.onceAbandon, [key], [token]);
  }

  ping(): Promise<void> {
    return this.#connection.ping();
  }

  close(): Promise<void> {
    return this.#connection.close();
  }
}

/**
 * Creates the Redis once driver: one hash per key, changed only by Lua scripts that check the
 * owner token, so a crashed or late runner never overwrites another's state.
 *
 * @param options Connection settings.
 * @returns The driver.
 */
export function redisOnce(options: RedisOptions = {}): OnceDriver {
  return new RedisOnce(options);
}
