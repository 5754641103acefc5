/**
 * The Redis cache driver: Redis's own string, hash, set and sorted-set commands, counters kept
 * to safe integers by two scripts, and the lock primitives on the owner-key scripts.
 *
 * Key layout: a cache key is stored under its own name on a single Redis. In a Redis Cluster
 * (`cluster` or a `Cluster` client) a lock's key and its fencing counter, which the acquire
 * script touches together, carry one hash tag in front (`{im\x1fjob}im\x1f\x1flock:job` and
 * `{im\x1fjob}im\x1f\x1ffence:job`, see `clusterKey` in `cluster_keys.ts`); every other key is
 * stored as it is, and `mget`, `mset`, `del` and `exists` run one call per hash slot.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { WrongTypeError, type ZMember } from "../../cache/mod.ts";
import { unsafeIncrementError } from "../../cache/driver.ts";
import type { CacheDriver } from "../../cache/driver.ts";
import type { DriverMessageListener, DriverSubscription } from "../../cache/types.ts";
import type { Logger } from "../../clog/mod.ts";
import { RedisSubscriber } from "./cache_pubsub.ts";
import { clusterKey, groupBySlot } from "./cluster_keys.ts";
import { checkNonNegativeIntegers, Connection, type RedisOptions } from "./connection.ts";
import { lockAcquire, lockRelease, lockRenew } from "./lock_scripts.ts";
import { type Script, script } from "./script.ts";

// Cache counters stay safe integers (what a JS number holds exactly): a result beyond ±(2^53-1)
// is undone (exact int64 arithmetic) and refused. The comparison on Lua's double is exact: a
// result beyond the bound never rounds back within it. The result goes back as text, since
// ioredis 6 misreads integer replies within 57 of 2^53 (it adds the digit before its offset).
const cacheIncrBy = script(
  "cacheIncrBy",
  `local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if n > 9007199254740991 or n < -9007199254740991 then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return redis.error_reply('KIT_UNSAFE_INTEGER')
end
return string.format('%.0f', n)`,
);
const cacheHincrBy = script(
  "cacheHincrBy",
  `local n = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if n > 9007199254740991 or n < -9007199254740991 then
  -- The delta negated as text: a Lua number could reach Redis in exponent notation.
  local back = string.sub(ARGV[2], 1, 1) == '-' and string.sub(ARGV[2], 2) or '-' .. ARGV[2]
  if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[1], ARGV[1], back) end
  return redis.error_reply('KIT_UNSAFE_INTEGER')
end
return string.format('%.0f', n)`,
);

function members(reply: string[]): ZMember[] {
  const result: ZMember[] = [];
  for (let i = 0; i < reply.length; i += 2) {
    result.push({ member: reply[i], score: Number(reply[i + 1]) });
  }
  return result;
}

const orUndefined = <T>(value: T | null): T | undefined => value === null ? undefined : value;

/** Bits per BITFIELD command: a batch's arguments stay far below any call-stack limit. */
const BITS_PER_COMMAND = 4096;

/** `BITFIELD key <op> u1 <offset> [1]` arguments, in commands of at most BITS_PER_COMMAND bits. */
function bitfieldCommands(
  key: string,
  offsets: readonly number[],
  set: boolean,
): (string | number)[][] {
  const commands: (string | number)[][] = [];
  for (let start = 0; start < offsets.length; start += BITS_PER_COMMAND) {
    const args: (string | number)[] = [key];
    for (const offset of offsets.slice(start, start + BITS_PER_COMMAND)) {
      if (set) args.push("SET", "u1", offset, 1);
      else args.push("GET", "u1", offset);
    }
    commands.push(args);
  }
  return commands;
}

/** The cache driver on one connection; `redisLock` runs the cache lock service over it. */
export class RedisCacheDriver implements CacheDriver {
  readonly name = "redis";
  readonly #connection: Connection;
  readonly #client: Redis;
  readonly #subscriber: RedisSubscriber;
  /** The key a cache key is stored under: itself, or in a cluster `clusterKey`'s. */
  readonly #key: (key: string) => string;
  /** Replicas a lock's acquire and renew wait for, and how long (see `RedisLockWait`). */
  readonly #lockWait: Required<RedisLockWait>;

  constructor(connection: Connection, logger?: Logger, lockWait: RedisLockWait = {}) {
    this.#connection = connection;
    this.#lockWait = {
      waitReplicas: lockWait.waitReplicas ?? 0,
      waitTimeoutMs: lockWait.waitTimeoutMs ?? 1000,
    };
    this.#client = connection.client;
    this.#key = connection.isCluster ? clusterKey : (key) => key;
    this.#subscriber = new RedisSubscriber(connection, logger);
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
    return this.#client.get(this.#key(key)).then(
      (text) => text === null ? undefined : decode(text),
      (error) => {
        throw this.#translate("get", key, error);
      },
    );
  }
  get(key: string): Promise<string | undefined> {
    return this.#client.get(this.#key(key)).then(orUndefined, (error) => {
      throw this.#translate("get", key, error);
    });
  }
  set(key: string, value: string, ttlMs?: number): Promise<void> {
    return this.#call("set", key, async () => {
      if (ttlMs) await this.#client.set(this.#key(key), value, "PX", ttlMs);
      else await this.#client.set(this.#key(key), value);
    });
  }
  setNX(key: string, value: string, ttlMs?: number): Promise<boolean> {
    return this.#call(
      "setNX",
      key,
      async () =>
        (ttlMs
          ? await this.#client.set(this.#key(key), value, "PX", ttlMs, "NX")
          : await this.#client.set(this.#key(key), value, "NX")) === "OK",
    );
  }
  getSet(key: string, value: string): Promise<string | undefined> {
    return this.#call(
      "getSet",
      key,
      async () => orUndefined(await this.#client.set(this.#key(key), value, "GET")),
    );
  }
  incrBy(key: string, delta: number): Promise<number> {
    return this.#increment("incrBy", cacheIncrBy, key, [delta]);
  }
  /** INCRBY or HINCRBY through its script, which refuses a result beyond the safe integers. */
  #increment(
    operation: string,
    target: Script,
    key: string,
    args: (string | number)[],
    field?: string,
  ): Promise<number> {
    return this.#connection.runScript(target, [this.#key(key)], args).then(Number, (error) => {
      // The script's refusal, or Redis's own int64 overflow on a value another client stored.
      throw /KIT_UNSAFE_INTEGER|would overflow/.test(String(error?.message))
        ? unsafeIncrementError(key, field)
        : this.#translate(operation, key, error);
    });
  }
  exists(keys: readonly string[]): Promise<number> {
    return this.#call(
      "exists",
      keys[0],
      () => this.#count(keys, (slot) => this.#client.exists(...slot)),
    );
  }
  del(keys: readonly string[]): Promise<number> {
    return this.#call("del", keys[0], () => this.#count(keys, (slot) => this.#client.del(...slot)));
  }
  /** `command` over `keys` in one call, or in a cluster one call per hash slot, summed. */
  async #count(
    keys: readonly string[],
    command: (keys: string[]) => Promise<number>,
  ): Promise<number> {
    if (!this.#connection.isCluster) return command([...keys]);
    const stored = keys.map(this.#key);
    const counts = await Promise.all(
      groupBySlot(stored).map((group) => command(group.map((index) => stored[index]))),
    );
    return counts.reduce((sum, count) => sum + count, 0);
  }
  expire(key: string, ttlMs: number): Promise<boolean> {
    return this.#call(
      "expire",
      key,
      async () => (await this.#client.pexpire(this.#key(key), ttlMs)) === 1,
    );
  }
  ttl(key: string): Promise<number> {
    return this.#call("ttl", key, () => this.#client.pttl(this.#key(key)));
  }
  mget(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.#call("mget", keys[0], async () => {
      if (!this.#connection.isCluster) return (await this.#client.mget(...keys)).map(orUndefined);
      // A cluster: one MGET per hash slot, the values put back in the callers' order.
      const stored = keys.map(this.#key);
      const values = new Array<string | undefined>(keys.length);
      await Promise.all(
        groupBySlot(stored).map(async (group) => {
          const replies = await this.#client.mget(...group.map((index) => stored[index]));
          group.forEach((index, i) => values[index] = orUndefined(replies[i]));
        }),
      );
      return values;
    });
  }
  mset(entries: readonly (readonly [string, string])[], ttlMs?: number): Promise<void> {
    return this.#call("mset", entries[0]?.[0] ?? "", async () => {
      const stored = entries.map(([key, value]) => [this.#key(key), value] as const);
      // One transaction; in a cluster one per hash slot (all or nothing within each slot).
      const groups = this.#connection.isCluster
        ? groupBySlot(stored.map(([key]) => key)).map((group) => group.map((i) => stored[i]))
        : [stored];
      await Promise.all(groups.map(async (group) => {
        const transaction = this.#client.multi();
        for (const [key, value] of group) {
          if (ttlMs) transaction.set(key, value, "PX", ttlMs);
          else transaction.set(key, value);
        }
        const results = await transaction.exec();
        const failed = results?.find(([error]) => error);
        if (failed) throw failed[0];
      }));
    });
  }

  hget(key: string, field: string): Promise<string | undefined> {
    return this.#call(
      "hget",
      key,
      async () => orUndefined(await this.#client.hget(this.#key(key), field)),
    );
  }
  hset(key: string, entries: readonly (readonly [string, string])[]): Promise<number> {
    return this.#call("hset", key, () => this.#client.hset(this.#key(key), ...entries.flat()));
  }
  hgetAll(key: string): Promise<Record<string, string>> {
    return this.#call("hgetAll", key, () => this.#client.hgetall(this.#key(key)));
  }
  hdel(key: string, fields: readonly string[]): Promise<number> {
    return this.#call("hdel", key, () => this.#client.hdel(this.#key(key), ...fields));
  }
  hexists(key: string, field: string): Promise<boolean> {
    return this.#call(
      "hexists",
      key,
      async () => (await this.#client.hexists(this.#key(key), field)) === 1,
    );
  }
  hlen(key: string): Promise<number> {
    return this.#call("hlen", key, () => this.#client.hlen(this.#key(key)));
  }
  hincrBy(key: string, field: string, delta: number): Promise<number> {
    return this.#increment("hincrBy", cacheHincrBy, key, [field, delta], field);
  }

  sadd(key: string, values: readonly string[]): Promise<number> {
    return this.#call("sadd", key, () => this.#client.sadd(this.#key(key), ...values));
  }
  srem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("srem", key, () => this.#client.srem(this.#key(key), ...values));
  }
  smembers(key: string): Promise<string[]> {
    return this.#call("smembers", key, () => this.#client.smembers(this.#key(key)));
  }
  sismember(key: string, member: string): Promise<boolean> {
    return this.#call(
      "sismember",
      key,
      async () => (await this.#client.sismember(this.#key(key), member)) === 1,
    );
  }
  scard(key: string): Promise<number> {
    return this.#call("scard", key, () => this.#client.scard(this.#key(key)));
  }

  zadd(key: string, entries: readonly ZMember[]): Promise<number> {
    return this.#call(
      "zadd",
      key,
      async () =>
        Number(
          await this.#client.zadd(
            this.#key(key),
            ...entries.flatMap(({ member, score }) => [score, member]),
          ),
        ),
    );
  }
  zrange(key: string, start: number, stop: number, reverse: boolean): Promise<ZMember[]> {
    return this.#call("zrange", key, async () =>
      members(
        reverse
          ? await this.#client.zrevrange(this.#key(key), start, stop, "WITHSCORES")
          : await this.#client.zrange(this.#key(key), String(start), String(stop), "WITHSCORES"),
      ));
  }
  zrangeByScore(key: string, min: number, max: number, limit?: number): Promise<ZMember[]> {
    return this.#call("zrangeByScore", key, async () =>
      members(
        limit === undefined
          ? await this.#client.zrangebyscore(this.#key(key), min, max, "WITHSCORES")
          : await this.#client.zrangebyscore(
            this.#key(key),
            min,
            max,
            "WITHSCORES",
            "LIMIT",
            0,
            limit,
          ),
      ));
  }
  zrem(key: string, values: readonly string[]): Promise<number> {
    return this.#call("zrem", key, () => this.#client.zrem(this.#key(key), ...values));
  }
  zremRangeByRank(key: string, start: number, stop: number): Promise<number> {
    return this.#call(
      "zremRangeByRank",
      key,
      () => this.#client.zremrangebyrank(this.#key(key), start, stop),
    );
  }
  zcard(key: string): Promise<number> {
    return this.#call("zcard", key, () => this.#client.zcard(this.#key(key)));
  }
  zcount(key: string, min: number, max: number): Promise<number> {
    return this.#call("zcount", key, () => this.#client.zcount(this.#key(key), min, max));
  }
  zscore(key: string, member: string): Promise<number | undefined> {
    return this.#call("zscore", key, async () => {
      const score = await this.#client.zscore(this.#key(key), member);
      return score === null ? undefined : Number(score);
    });
  }
  zincrBy(key: string, member: string, delta: number): Promise<number> {
    return this.#call(
      "zincrBy",
      key,
      async () => Number(await this.#client.zincrby(this.#key(key), delta, member)),
    );
  }

  lockAcquire(
    key: string,
    fenceKey: string,
    token: string,
    ttlMs: number,
  ): Promise<number | undefined> {
    return this.#call("lockAcquire", key, async () => {
      const fence = await this.#lockScript(
        lockAcquire,
        [this.#key(key), this.#key(fenceKey)],
        [token, ttlMs],
        async () => {
          // Not confirmed: let it go, so nobody believes in a lock a failover may forget.
          await this.#connection.runScript(lockRelease, [this.#key(key)], [token]).catch(() => {});
        },
      );
      return fence === null ? undefined : Number(fence);
    });
  }
  lockRenew(key: string, token: string, ttlMs: number): Promise<number> {
    return this.#call(
      "lockRenew",
      key,
      async () => Number(await this.#lockScript(lockRenew, [this.#key(key)], [token, ttlMs])),
    );
  }

  /**
   * Runs a lock script; with `waitReplicas`, followed by WAIT on the same node, failing (after
   * `undo` when the script took the lock) when fewer replicas confirmed in time.
   */
  async #lockScript(
    target: Script,
    keys: string[],
    args: (string | number)[],
    undo?: () => Promise<void>,
  ): Promise<unknown> {
    const { waitReplicas, waitTimeoutMs } = this.#lockWait;
    if (waitReplicas === 0) return await this.#connection.runScript(target, keys, args);
    const { result, confirmed } = await this.#connection.runScriptAndWait(
      target,
      keys,
      args,
      waitReplicas,
      waitTimeoutMs,
    );
    if (confirmed >= waitReplicas) return result;
    if (result !== null) await undo?.();
    throw new Error(
      `only ${confirmed} of ${waitReplicas} replicas (waitReplicas) confirmed the lock within ${waitTimeoutMs} ms${
        undo && result !== null ? ": released it" : ""
      }`,
    );
  }
  lockRelease(key: string, token: string): Promise<boolean> {
    return this.#call(
      "lockRelease",
      key,
      async () =>
        Number(await this.#connection.runScript(lockRelease, [this.#key(key)], [token])) === 1,
    );
  }

  publish(channel: string, message: string): Promise<number> {
    return this.#call(
      "publish",
      channel,
      () => this.#connection.pubSubNode().publish(channel, message),
    );
  }
  subscribe(
    channels: readonly string[],
    pattern: boolean,
    listener: DriverMessageListener,
  ): Promise<DriverSubscription> {
    return this.#subscriber.subscribe(channels, pattern, listener);
  }

  setBits(key: string, offsets: readonly number[], ttlMs?: number): Promise<boolean[]> {
    return this.#call("setBits", key, async () => {
      // One transaction: all bits of a batch, and the expiry of a new filter, in one step.
      const transaction = this.#client.multi();
      for (const args of bitfieldCommands(this.#key(key), offsets, true)) {
        transaction.call("BITFIELD", args);
      }
      if (ttlMs) transaction.pexpire(this.#key(key), ttlMs, "NX");
      const results = (await transaction.exec()) ?? [];
      const failed = results.find(([error]) => error);
      if (failed) throw failed[0];
      const commands = ttlMs ? results.slice(0, -1) : results;
      return commands.flatMap(([, bits]) => (bits as number[]).map((bit) => bit === 1));
    });
  }
  getBits(key: string, offsets: readonly number[]): Promise<boolean[]> {
    return this.#call("getBits", key, async () => {
      const replies = await Promise.all(
        bitfieldCommands(this.#key(key), offsets, false).map((args) =>
          this.#client.call("BITFIELD_RO", args)
        ),
      );
      return replies.flatMap((bits) => (bits as number[]).map((bit) => bit === 1));
    });
  }

  async close(): Promise<void> {
    await this.#subscriber.close();
    await this.#connection.close();
  }
}

/**
 * Creates the Redis cache driver.
 *
 * @param options Connection settings.
 * @returns The driver; `cache.create` connects it and checks that Redis answers.
 * @throws {TypeError | RangeError} On invalid options.
 */
export function redisCache(options: RedisCacheOptions = {}): CacheDriver {
  const lockWait = ["lockWaitReplicas", "lockWaitTimeoutMs"] as const;
  const connection = new Connection(options, "redisCache", lockWait);
  checkNonNegativeIntegers("redisCache", options, lockWait);
  return new RedisCacheDriver(connection, options.logger, {
    waitReplicas: options.lockWaitReplicas,
    waitTimeoutMs: options.lockWaitTimeoutMs,
  });
}

/**
 * How a lock's acquire and renew wait for replicas: each script is followed by
 * `WAIT waitReplicas waitTimeoutMs` on the same master, and an acquire or renew fewer replicas
 * confirmed in time fails with a `DriverError` (an acquire releases the lock first). With one
 * replica per master, a failover then promotes a replica that has the lock and its fencing
 * counter, so fencing tokens keep increasing and the lock is not forgotten; without it, a
 * master that dies before replicating hands its successor an older counter (a token can repeat)
 * and no lock. As Redis's documentation says of WAIT, this is not strong consistency: a replica
 * promoted by hand, or one of several that had not confirmed, can lack the write.
 */
export interface RedisLockWait {
  /**
   * Replicas that must confirm; `0` does not wait.
   * @default {0}
   */
  readonly waitReplicas?: number;
  /**
   * How long to wait for them.
   * @default {1000}
   */
  readonly waitTimeoutMs?: number;
}

/** Options of {@linkcode redisCache}. */
export interface RedisCacheOptions extends RedisOptions {
  /**
   * Replicas that must confirm each lock acquire and renew (`cache.lock`), as
   * {@linkcode RedisLockWait.waitReplicas}; other cache writes never wait.
   * @default {0}
   */
  readonly lockWaitReplicas?: number;
  /**
   * How long a lock acquire or renew waits for {@linkcode RedisCacheOptions.lockWaitReplicas}.
   * @default {1000}
   */
  readonly lockWaitTimeoutMs?: number;
}
