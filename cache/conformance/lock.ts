/**
 * Cache conformance: locks with fencing tokens: exclusion, renewal, signals, `lost`, isolation from cache keys, TTL limits.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import * as cache from "../mod.ts";
import { keyspace } from "../driver.ts";
import type { CacheSuiteContext } from "./_context.ts";

/**
 * Registers the lock cases: exclusion with fencing tokens across two providers,
 * `tryAcquire`, renewal, signals, and `lost` when the key vanishes.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lockCases(context: CacheSuiteContext): void {
  const { test, pair, backend } = context;

  test("lock: N increments under the lock from two providers give exactly N, tokens strictly increase", async () => {
    await using env = await pair("lock counter");
    await env.a.string.set("counter", 0);
    const tokens: number[] = [];
    const perProvider = 15;
    await Promise.all([env.a, env.b].map(async (provider) => {
      for (let i = 0; i < perProvider; i++) {
        await using lock = await provider.lock.acquire("counter", { ttlMs: 2000 });
        tokens.push(lock.token);
        const value = await provider.string.get<number>("counter");
        await new Promise((resolve) => setTimeout(resolve, 1));
        await provider.string.set("counter", (value ?? 0) + 1);
      }
    }));
    assert.equal(await env.a.string.get("counter"), 2 * perProvider);
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i] > tokens[i - 1]);
  });

  test("lock: tryAcquire is null while held; an aborted acquire gives up; renewal keeps it past its TTL", async () => {
    await using env = await pair("lock basics");
    const held = await env.a.lock.acquire("res", { ttlMs: 500 });
    assert.equal(await env.b.lock.tryAcquire("res"), null);
    const aborted = new AbortController();
    const waiting = env.b.lock.acquire("res", { signal: aborted.signal });
    setTimeout(() => aborted.abort(new Error("gave up")), 50);
    await assert.rejects(waiting, /gave up/);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // more than two TTLs
    assert.equal(held.lost.aborted, false, "renewal kept it");
    assert.equal(await env.b.lock.tryAcquire("res"), null);
    await held.renew();
    await held.unlock();
    const next = await env.b.lock.tryAcquire("res");
    assert.ok(next && next.token > held.token);
    await next?.unlock();
  });

  test("lock: calls take a signal; once aborted they are refused but unlock still happens, and a lock got after its caller left is released", async () => {
    await using env = await pair("lock signal");
    const held = await env.a.lock.acquire("res", { ttlMs: 2000 });
    const gone = new AbortController();
    gone.abort(new Error("request over"));
    const signal = gone.signal;
    for (
      const call of [
        () => held.renew({ signal }),
        () => env.a.lock.tryAcquire("other", { signal }),
        () => env.a.lock.acquire("other", { signal }),
      ]
    ) {
      await assert.rejects(call(), /request over/);
    }
    assert.equal(await env.b.lock.tryAcquire("res"), null, "still held");
    const other = await env.b.lock.tryAcquire("other");
    assert.ok(other, "the refused calls took nothing");
    await other.unlock();
    await assert.rejects(held.unlock({ signal }), /request over/);
    await eventually(async () => {
      const lock = await env.b.lock.tryAcquire("res");
      assert.ok(lock, "an unlock under an aborted signal still releases");
      await lock.unlock();
    });
    // Aborted while in flight: the caller is told at once, and what the call still gets goes back.
    for (const take of [env.a.lock.tryAcquire, env.a.lock.acquire]) {
      const leaving = new AbortController();
      const pending = take("res", { ttlMs: 2000, signal: leaving.signal });
      leaving.abort(new Error("caller left"));
      await assert.rejects(pending, /caller left/);
      await eventually(async () => {
        const lock = await env.b.lock.tryAcquire("res");
        assert.ok(lock, "the abandoned lock was released");
        await lock.unlock();
      }, { timeoutMs: 1500 });
    }
    await assert.rejects(
      env.a.lock.tryAcquire("res", { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });

  test("lock: a holder whose key vanished gets `lost`, and its unlock leaves the next holder alone", async () => {
    await using env = await pair("lock lost");
    const held = await env.a.lock.acquire("res", { ttlMs: 300 });
    // What an expiry during a long pause looks like: the key is gone and someone else takes it.
    await using raw = await backend();
    const lockKey = keyspace(env.keyPrefix).internal("lock", "test", "res");
    assert.equal(await raw.del([lockKey]), 1);
    const next = await env.b.lock.acquire("res", { ttlMs: 2000 });
    await eventually(() => assert.ok(held.lost.aborted), { timeoutMs: 3000 });
    assert.ok(held.lost.reason instanceof cache.CacheLockLostError);
    await held.unlock();
    assert.equal(await env.a.lock.tryAcquire("res"), null, "the new holder still holds it");
    assert.ok(next.token > held.token);
    await next.unlock();
  });
}

/**
 * Registers the lock isolation case: no cache operation reaches a held lock or
 * its fencing counter.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lockIsolationCases(context: CacheSuiteContext): void {
  const { test, pair } = context;

  test("lock: no cache operation reaches a held lock or its fencing counter", async () => {
    await using env = await pair("lock namespace");
    const { a, b } = env;
    for (let i = 0; i < 3; i++) await (await a.lock.acquire("job")).unlock();
    const held = await a.lock.acquire("job", { ttlMs: 5000 });
    assert.ok(held.token >= 4);
    // Every name the lock's keys had or could have, through every operation that writes.
    const names = ["job", "lock:job", "lock-fence:job", "fence:job", "load:job", "job:loading"];
    const attempts = (name: string) => [
      () => b.string.del(name),
      () => b.string.set(name, 0),
      () => b.string.setNX(name, 0),
      () => b.string.getSet(name, 0),
      () => b.string.mset({ [name]: 0 }),
      () => b.string.incrBy(name, -1000),
      () => b.string.expire(name, 1),
      () => b.string.del(name),
      () => b.hash.hset(name, { f: 0 }),
      () => b.string.del(name),
      () => b.set.add(name, "m"),
      () => b.string.del(name),
      () => b.zset.add(name, { member: "m", score: 0 }),
      () => b.string.del(name),
      () => b.getOrLoad(name, () => Promise.resolve(0), { ttlMs: 1000, earlyRefresh: false }),
      () => b.string.del(name),
    ];
    for (const name of names) {
      for (const attempt of attempts(name)) {
        await attempt().catch((error) => {
          if (!(error instanceof cache.WrongTypeError)) throw error;
        });
      }
    }
    for (const name of ["\x1flock:job", "\x1ffence:job"]) {
      await assert.rejects(b.string.del(name), /'key' must not contain U\+001F/);
    }
    assert.equal(await b.lock.tryAcquire("job"), null, "still held");
    await held.renew();
    assert.equal(held.lost.aborted, false);
    await held.unlock();
    const next = await b.lock.acquire("job");
    assert.equal(next.token, held.token + 1, "the fencing counter was not rewound");
    await next.unlock();
    // A caller's key named like a load lease does not stall loading that key.
    await b.string.set("k:loading", "mine");
    assert.equal(
      await a.getOrLoad("k", () => Promise.resolve("loaded"), {
        ttlMs: 10_000,
        signal: AbortSignal.timeout(3000),
      }),
      "loaded",
    );
    assert.equal(await b.string.get("k:loading"), "mine");
  });
}

/**
 * Registers the lock TTL limit case: a TTL beyond the longest timer delay is
 * refused, one at the limit holds, value TTLs have no such limit.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lockTtlLimitCases(context: CacheSuiteContext): void {
  const { options, test, pair } = context;

  test("lock: a TTL beyond the longest timer delay (2^31 - 1 ms) is refused; one at the limit holds", async () => {
    await using env = await pair("lock ttl limit");
    for (const take of [env.a.lock.acquire, env.a.lock.tryAcquire]) {
      await assert.rejects(
        take("big", { ttlMs: 3e9 }),
        (e: Error) =>
          e instanceof RangeError &&
          /'ttlMs' must be at most 2147483647 ms.*current value is 3000000000/.test(e.message),
      );
    }
    const longest = await env.a.lock.acquire("big", { ttlMs: 2 ** 31 - 1 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(longest.lost.aborted, false, "not lost to an overflowing timer");
    assert.equal(await env.b.lock.tryAcquire("big"), null);
    await longest.unlock();
    await assert.rejects(
      cache.create({ ...cache.defaultConfig("development"), keyPrefix: "", lockTtlMs: 3e9 }, {
        driver: await options.makeDriver(),
      }),
      (e: Error) =>
        e instanceof RangeError && /'lockTtlMs' must be at most 2147483647/.test(e.message),
    );
    // Values have no timer: a TTL up to the safe integers means what it says on every driver.
    const huge = Number.MAX_SAFE_INTEGER;
    await env.a.string.set("v", 1, { ttlMs: huge });
    assert.ok((await env.b.string.ttl("v")) > 2 ** 31, "set");
    await env.a.string.set("w", 1);
    assert.equal(await env.a.string.expire("w", huge), true);
    assert.ok((await env.b.string.ttl("w")) > 2 ** 31, "expire");
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(await env.b.string.mget(["v", "w"]), [1, 1]);
  });
}
