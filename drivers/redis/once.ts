/**
 * The Redis once driver: one hash per key, changed only by Lua scripts that check the owner
 * token.
 *
 * @module
 */
import type { BeginResult, OnceDriver, OnceOutcome } from "../../once/driver.ts";
import { Connection, type RedisOptions } from "./connection.ts";
import { type Script, script } from "./script.ts";

// once: one hash per key with token, fp (fingerprint), status (running | ok | error), payload.
const onceBegin = script(
  "onceBegin",
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fp', ARGV[2], 'status', 'running')
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'acquired', '', ''}
end
local v = redis.call('HMGET', KEYS[1], 'status', 'fp', 'payload')
return {v[1] or 'running', v[2] or '', v[3] or ''}`,
);
const onceRenew = script(
  "onceRenew",
  `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] and redis.call('HGET', KEYS[1], 'status') == 'running' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(ARGV[2])
end
return 0`,
);
const onceComplete = script(
  "onceComplete",
  `if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'payload', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`,
);
const onceAbandon = script(
  "onceAbandon",
  `if redis.call('HGET', KEYS[1], 'token') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

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
      onceBegin,
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
    return Number(await this.#run("renew", onceRenew, [key], [token, lockTtlMs]));
  }

  async complete(
    key: string,
    token: string,
    outcome: OnceOutcome,
    ttlMs: number,
  ): Promise<boolean> {
    return Number(
      await this.#run("complete", onceComplete, [key], [
        token,
        outcome.status,
        outcome.payload,
        ttlMs,
      ]),
    ) === 1;
  }

  async abandon(key: string, token: string): Promise<void> {
    await this.#run("abandon", onceAbandon, [key], [token]);
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
