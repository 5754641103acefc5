/**
 * The behaviour every cache driver must show, as `Deno.test` cases. Each case
 * runs two providers on one backend, as two service instances would.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { cacheConformance } from "@gochat/kit/cache/conformance";
 * import { cache } from "@gochat/kit";
 *
 * const store = new cache.MemoryCacheStore();
 * cacheConformance({ name: "memory", makeDriver: () => cache.memoryCache({ store }) });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import * as metrics from "../metrics/mod.ts";
import * as cache from "./mod.ts";
import { capturingLogger } from "../testing/logger.ts";

/** How to run the suite against one driver. */
export interface CacheSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): cache.CacheDriver | Promise<cache.CacheDriver>;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the cache conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function cacheConformance(options: CacheSuiteOptions): void {
  const { name } = options;

  async function pair(label: string) {
    const keyPrefix = testKeyspace(label);
    const { logger, logs } = capturingLogger();
    const config = { ...cache.defaultConfig("development"), keyPrefix, loadLeaseMs: 2000 };
    const a = await cache.create(config, { driver: await options.makeDriver(), logger });
    const b = await cache.create(config, { driver: await options.makeDriver(), logger });
    return {
      a,
      b,
      logs,
      keyPrefix,
      async [Symbol.asyncDispose]() {
        await a.close();
        await b.close();
      },
    };
  }

  /** A client of the backend without a provider: what another service (in Go, say) sees. */
  async function backend() {
    const driver = await options.makeDriver();
    await driver.ping();
    return Object.assign(driver, { [Symbol.asyncDispose]: () => driver.close() });
  }

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] cache: ${title}`, ignore: options.ignore, fn });

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await cache.create(
      { ...cache.defaultConfig("development"), keyPrefix: testKeyspace("ping") },
      { driver: await options.makeDriver(), logger: capturingLogger().logger },
    );
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), cache.DriverError);
  });

  test("with metrics, get hits and misses and getOrLoad outcomes are counted", async () => {
    await using registry = await metrics.create(metrics.defaultConfig("development"));
    const config = {
      ...cache.defaultConfig("development"),
      keyPrefix: testKeyspace("metrics"),
      loadLeaseMs: 2000,
    };
    await using c = await cache.create(config, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
      metrics: registry,
    });
    await c.string.set("k", "v");
    await c.string.get("k");
    await c.string.get("k");
    await c.string.get("absent");
    const load = () => Promise.resolve(7);
    await c.getOrLoad("loaded", load, { ttlMs: 10_000, earlyRefresh: false });
    await c.getOrLoad("loaded", load, { ttlMs: 10_000, earlyRefresh: false });
    await assert.rejects(
      c.getOrLoad("broken", () => Promise.reject(new Error("db down")), { ttlMs: 10_000 }),
      /db down/,
    );
    const count = (op: string, result: string) =>
      (registry.render() ?? "").match(
        new RegExp(`^cache_requests_total\\{op="${op}",result="${result}"\\} (\\d+)$`, "m"),
      )?.[1];
    assert.equal(count("get", "hit"), "2");
    assert.equal(count("get", "miss"), "1");
    assert.equal(count("getOrLoad", "loaded"), "1");
    assert.equal(count("getOrLoad", "hit"), "1");
    assert.equal(count("getOrLoad", "failed"), "1");
  });

  test("string: typed values round-trip between two providers; a miss is undefined", async () => {
    await using env = await pair("string");
    const { a, b } = env;
    await a.string.set("user", { id: 1, tags: ["x"], nested: { ok: true } });
    assert.deepEqual(await b.string.get("user"), { id: 1, tags: ["x"], nested: { ok: true } });
    assert.equal(await b.string.get("nobody"), undefined);
    assert.equal(await a.string.setNX("once", "first"), true);
    assert.equal(await b.string.setNX("once", "second"), false);
    assert.equal(await b.string.getSet("once", "third"), "first");
    assert.equal(await a.string.get("once"), "third");
    assert.equal(await a.string.incr("n"), 1);
    assert.equal(await b.string.incrBy("n", 41), 42);
    assert.equal(await a.string.decr("n"), 41);
    assert.equal(await b.string.get("n"), 41);
    assert.equal(await a.string.exists("user", "n", "nobody"), 2);
    await a.string.mset({ m1: 1, m2: "two" });
    assert.deepEqual(await b.string.mget(["m1", "m2", "m3"]), [1, "two", undefined]);
    assert.equal(await b.string.del("m1", "m2", "m3"), 2);
    assert.equal(await a.string.exists("m1"), 0);
  });

  test("values: a bigint is stored as a JSON integer with all its digits and reads back exactly, nested too", async () => {
    await using env = await pair("bigint");
    const { a, b } = env;
    const id = 1234567890123456789n; // a Snowflake id, beyond 2^53
    await a.string.set("user", { id });
    assert.deepEqual(await b.string.get("user"), { id });
    // What a Go service reading the key sees: a JSON number, which it reads into an int64.
    await using raw = await backend();
    const space = cache.keyspace(env.keyPrefix);
    assert.equal(await raw.get(space.key("test", "user")), `{"id":1234567890123456789}`);

    const nested = {
      ids: [2n ** 63n - 1n, -(2n ** 63n), 5n],
      page: { next: 9007199254740993n, size: 20 },
      wide: 2 ** 70, // a number beyond 2^53 stays a number
      safe: Number.MAX_SAFE_INTEGER,
    };
    await a.string.set("nested", nested);
    assert.equal(
      await raw.get(space.key("test", "nested")),
      `{"ids":[9223372036854775807,-9223372036854775808,5],"page":{"next":9007199254740993,"size":20},"wide":1.1805916207174113e+21,"safe":9007199254740991}`,
    );
    // A bigint within ±(2^53 − 1) reads back as a number: JSON text cannot tell the two apart.
    const read = { ...nested, ids: [2n ** 63n - 1n, -(2n ** 63n), 5] };
    assert.deepEqual(await b.string.get("nested"), read);
    assert.deepEqual(await b.string.mget(["nested", "user"]), [read, { id }]);
    await a.hash.hset("h", { id, list: [id] });
    assert.deepEqual(await b.hash.hgetAll("h"), { id, list: [id] });
    await a.string.mset({ m: id });
    assert.equal(await b.string.getSet("m", [id, -id]), id);
    assert.deepEqual(await b.string.get("m"), [id, -id]);
    const loaded = { id, at: 1 };
    assert.deepEqual(
      await a.getOrLoad("l", () => Promise.resolve(loaded), { ttlMs: 10_000 }),
      loaded,
    );
    assert.deepEqual(
      await b.getOrLoad("l", () => Promise.reject(new Error("cached")), { ttlMs: 10_000 }),
      loaded,
    );
    // Written by another service: an int64 beyond 2^53 becomes a bigint, a small one a number.
    await raw.set(space.key("test", "go"), `{"id":-9223372036854775808,"n":1,"f":1e300}`);
    assert.deepEqual(await a.string.get("go"), { id: -(2n ** 63n), n: 1, f: 1e300 });
  });

  test("values: a serializer given to create encodes and decodes every value; its output must be well-formed", async () => {
    const keyPrefix = testKeyspace("serializer");
    const serializer: cache.Serializer = {
      encode: (value) => `v1:${JSON.stringify(value)}`,
      decode: (text) => {
        assert.ok(text.startsWith("v1:"), text);
        return JSON.parse(text.slice(3));
      },
    };
    const config = { ...cache.defaultConfig("development"), keyPrefix, loadLeaseMs: 2000 };
    const logger = capturingLogger().logger;
    await using a = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer,
    });
    await using b = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer,
    });
    await a.string.set("k", { n: 1 });
    assert.deepEqual(await b.string.get("k"), { n: 1 });
    await using raw = await backend();
    assert.equal(await raw.get(cache.keyspace(keyPrefix).key("test", "k")), `v1:{"n":1}`);
    await a.hash.hset("h", { f: "x" });
    assert.deepEqual(await b.hash.hgetAll("h"), { f: "x" });
    assert.equal(await a.getOrLoad("l", () => Promise.resolve(7), { ttlMs: 10_000 }), 7);
    assert.equal(await b.getOrLoad("l", () => Promise.resolve(8), { ttlMs: 10_000 }), 7);
    await using broken = await cache.create(config, {
      driver: await options.makeDriver(),
      logger,
      serializer: { encode: () => "\ud800", decode: (text) => text },
    });
    await assert.rejects(broken.string.set("bad", 1), /must be well-formed Unicode/);
    await assert.rejects(
      cache.create(config, {
        driver: await options.makeDriver(),
        serializer: { encode: () => "" } as unknown as cache.Serializer,
      }),
      (e: Error) => e instanceof TypeError && /'serializer' must have/.test(e.message),
    );
  });

  test("getOrLoad: a loader resolving to undefined is refused, saying to return null; null is cached", async () => {
    await using env = await pair("load undefined");
    await assert.rejects(
      env.a.getOrLoad("u", () => Promise.resolve(undefined), { ttlMs: 10_000 }),
      (e: Error) =>
        e instanceof TypeError && /loader returned undefined: return null/.test(e.message),
    );
    assert.equal(await env.a.string.exists("u"), 0, "nothing was stored");
    assert.equal(await env.a.getOrLoad("u", () => Promise.resolve(null), { ttlMs: 10_000 }), null);
    assert.equal(
      await env.b.getOrLoad("u", () => Promise.reject(new Error("cached")), { ttlMs: 10_000 }),
      null,
    );
  });

  test("string: TTLs expire keys, ttl() reports them, a plain set clears them", async () => {
    await using env = await pair("ttl");
    const { a, b } = env;
    await a.string.set("short", "v", { ttlMs: 150 });
    const remaining = await b.string.ttl("short");
    assert.ok(remaining > 0 && remaining <= 150, `ttl ${remaining}`);
    assert.equal(await b.string.ttl("missing"), -2);
    await a.string.set("forever", "v");
    assert.equal(await a.string.ttl("forever"), -1);
    assert.equal(await a.string.expire("forever", 10_000), true);
    assert.ok((await a.string.ttl("forever")) > 9_000);
    await a.string.set("forever", "again");
    assert.equal(await a.string.ttl("forever"), -1, "SET without ttl clears the expiry");
    assert.equal(await a.string.expire("missing", 1000), false);
    await eventually(async () => assert.equal(await b.string.get("short"), undefined), {
      timeoutMs: 3000,
    });
  });

  test("hash: set, get, getAll, del, exists, len, incrBy", async () => {
    await using env = await pair("hash");
    const { a, b } = env;
    assert.equal(await a.hash.hset("h", { name: "ann", age: 30, meta: { vip: true } }), 3);
    assert.equal(await a.hash.hset("h", { age: 31, city: "Oslo" }), 1);
    assert.equal(await b.hash.hget("h", "age"), 31);
    assert.equal(await b.hash.hget("h", "none"), undefined);
    assert.deepEqual(await b.hash.hgetAll("h"), {
      name: "ann",
      age: 31,
      meta: { vip: true },
      city: "Oslo",
    });
    assert.equal(await b.hash.hexists("h", "city"), true);
    assert.equal(await b.hash.hlen("h"), 4);
    assert.equal(await a.hash.hincrBy("h", "visits", 5), 5);
    assert.equal(await a.hash.hincrBy("h", "visits", -2), 3);
    assert.equal(await a.hash.hdel("h", "city", "none"), 1);
    assert.deepEqual(await b.hash.hgetAll("missing"), {});
  });

  test("set: add, remove, members, isMember, card", async () => {
    await using env = await pair("set");
    const { a, b } = env;
    assert.equal(await a.set.add("s", "x", "y", "x"), 2);
    assert.equal(await a.set.add("s", "y", "z"), 1);
    assert.deepEqual((await b.set.members("s")).sort(), ["x", "y", "z"]);
    assert.equal(await b.set.isMember("s", "y"), true);
    assert.equal(await b.set.isMember("s", "w"), false);
    assert.equal(await a.set.remove("s", "y", "w"), 1);
    assert.equal(await b.set.card("s"), 2);
    assert.deepEqual(await b.set.members("missing"), []);
  });

  test("zset: add, range, revRange, rangeByScore, rem, remRangeByRank, count, score, incrBy", async () => {
    await using env = await pair("zset");
    const { a, b } = env;
    const m = (member: string, score: number) => ({ member, score });
    assert.equal(await a.zset.add("z", m("a", 1), m("b", 2), m("c", 3), m("d", 4)), 4);
    assert.equal(await a.zset.add("z", m("a", 5)), 0, "an update adds nothing");
    assert.deepEqual(await b.zset.range("z", 0, -1), [m("b", 2), m("c", 3), m("d", 4), m("a", 5)]);
    assert.deepEqual(await b.zset.range("z", 1, 2), [m("c", 3), m("d", 4)]);
    assert.deepEqual(await b.zset.revRange("z", 0, 1), [m("a", 5), m("d", 4)]);
    assert.deepEqual(await b.zset.rangeByScore("z", 2, 4), [m("b", 2), m("c", 3), m("d", 4)]);
    assert.deepEqual(await b.zset.rangeByScore("z", 2, 4, { limit: 2 }), [m("b", 2), m("c", 3)]);
    assert.equal(await b.zset.count("z", 3, 5), 3);
    assert.equal(await b.zset.score("z", "c"), 3);
    assert.equal(await b.zset.score("z", "none"), undefined);
    assert.equal(await a.zset.incrBy("z", "c", 2.5), 5.5);
    assert.equal(await a.zset.rem("z", "b", "none"), 1);
    assert.equal(await a.zset.remRangeByRank("z", 0, 0), 1, "removes the lowest (d, 4)");
    assert.deepEqual(await b.zset.range("z", 0, -1), [m("a", 5), m("c", 5.5)]);
    assert.equal(await b.zset.card("z"), 2);
  });

  test("an operation on a key of another type fails with WrongTypeError", async () => {
    await using env = await pair("wrongtype");
    await env.a.string.set("k", "text");
    await assert.rejects(env.b.hash.hget("k", "f"), cache.WrongTypeError);
    await assert.rejects(env.b.set.add("k", "m"), cache.WrongTypeError);
    await env.a.string.set("text", "abc");
    await assert.rejects(env.a.string.incr("text"), /not an integer/);
  });

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
    const lockKey = cache.keyspace(env.keyPrefix).internal("lock", "test", "res");
    assert.equal(await raw.del([lockKey]), 1);
    const next = await env.b.lock.acquire("res", { ttlMs: 2000 });
    await eventually(() => assert.ok(held.lost.aborted), { timeoutMs: 3000 });
    assert.ok(held.lost.reason instanceof cache.CacheLockLostError);
    await held.unlock();
    assert.equal(await env.a.lock.tryAcquire("res"), null, "the new holder still holds it");
    assert.ok(next.token > held.token);
    await next.unlock();
  });

  test("getOrLoad: concurrent callers on two providers run the loader once and share its result", async () => {
    await using env = await pair("load once");
    let calls = 0;
    const loader = async () => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, 80));
      return { loaded: calls };
    };
    const results = await Promise.all(
      Array.from(
        { length: 10 },
        (_, i) =>
          (i % 2 ? env.a : env.b).getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false }),
      ),
    );
    assert.equal(calls, 1);
    for (const result of results) assert.deepEqual(result, { loaded: 1 });
    assert.deepEqual(await env.a.getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false }), {
      loaded: 1,
    });
    assert.equal(calls, 1);
  });

  test("getOrLoad: a caller's signal ends its wait while the load goes on for the others", async () => {
    await using env = await pair("load abort");
    let release!: (value: string) => void;
    let loading!: () => void;
    const loaderStarted = new Promise<void>((resolve) => (loading = resolve));
    const loader = () => {
      loading();
      return new Promise<string>((resolve) => (release = resolve));
    };
    const first = env.a.getOrLoad("k", loader, { ttlMs: 10_000, earlyRefresh: false });
    const controller = new AbortController();
    const impatient = env.a.getOrLoad("k", loader, {
      ttlMs: 10_000,
      earlyRefresh: false,
      signal: controller.signal,
    });
    await loaderStarted;
    controller.abort(new Error("deadline passed"));
    await assert.rejects(impatient, /deadline passed/);
    release("loaded");
    assert.equal(await first, "loaded");
    assert.equal(
      await env.b.getOrLoad("k", () => Promise.resolve("again"), { ttlMs: 10_000 }),
      "loaded",
      "the load filled the cache",
    );
    await assert.rejects(
      env.a.getOrLoad("k", loader, { ttlMs: 10_000, signal: controller.signal }),
      /deadline passed/,
      "an already aborted signal does not even read",
    );
  });

  test("getOrLoad: reloads after expiry, serves stale within grace when the loader fails, refreshes early", async () => {
    await using env = await pair("load stale");
    let value = 1;
    let fail = false;
    const loader = () => fail ? Promise.reject(new Error("db down")) : Promise.resolve(value);
    assert.equal(
      await env.a.getOrLoad("k", loader, { ttlMs: 100, staleMs: 5000, earlyRefresh: false }),
      1,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    fail = true;
    assert.equal(
      await env.b.getOrLoad("k", loader, { ttlMs: 100, staleMs: 5000, earlyRefresh: false }),
      1,
      "stale",
    );
    assert.ok(env.logs.records.some((r) => r.msg.includes("serving the stale value")));
    await assert.rejects(
      env.b.getOrLoad("k2", loader, { ttlMs: 100 }),
      /db down/,
      "nothing stale to serve",
    );
    fail = false;
    value = 2;
    assert.equal(
      await env.b.getOrLoad("k", loader, { ttlMs: 60_000, staleMs: 5000, earlyRefresh: false }),
      2,
    );
    value = 3;
    // A huge beta makes XFetch refresh on every read: the read returns the current value at once.
    assert.equal(
      await env.a.getOrLoad("k", loader, { ttlMs: 60_000, earlyRefresh: { beta: 1e12 } }),
      2,
    );
    await eventually(async () =>
      assert.equal(await env.b.getOrLoad("k", loader, { ttlMs: 60_000, earlyRefresh: false }), 3)
    );
  });

  test("withSignal: every operation is bound to the signal; after the abort none is sent", async () => {
    await using env = await pair("signal");
    const controller = new AbortController();
    const bound = env.a.withSignal(controller.signal);
    await bound.string.set("k", { v: 1 });
    await bound.hash.hset("h", { f: 1 });
    await bound.set.add("s", "m");
    await bound.zset.add("z", { member: "m", score: 1 });
    assert.deepEqual(await bound.string.get("k"), { v: 1 });
    assert.equal(await bound.getOrLoad("l", () => Promise.resolve(7), { ttlMs: 60_000 }), 7);
    await assert.rejects(bound.string.incr(""), /'key' must be a non-empty string/);
    controller.abort(new Error("request ended"));
    for (
      const call of [
        () => bound.string.get("k"),
        () => bound.string.set("k", 2),
        () => bound.string.del("k", "other"),
        () => bound.hash.hgetAll("h"),
        () => bound.set.members("s"),
        () => bound.zset.range("z", 0, -1),
        () => bound.getOrLoad("l2", () => Promise.resolve(8), { ttlMs: 60_000 }),
      ]
    ) {
      await assert.rejects(call(), /request ended/);
    }
    assert.deepEqual(await env.b.string.get("k"), { v: 1 }, "the refused set was not sent");
    assert.equal(await env.b.string.get("l2"), undefined, "nor the refused load");
    assert.deepEqual(await env.a.string.get("k"), { v: 1 }, "the provider itself is unaffected");
    assert.throws(
      () => env.a.withSignal("soon" as unknown as AbortSignal),
      /must be an AbortSignal/,
    );
  });

  test("bad input gets a clear error naming the problem", async () => {
    await using env = await pair("bad input");
    await assert.rejects(env.a.string.set("", 1), /'key' must be a non-empty string/);
    await assert.rejects(
      env.a.string.set("k", 1, { ttlMs: -1 }),
      (e: Error) => e instanceof RangeError && /'ttlMs'/.test(e.message),
    );
    await assert.rejects(
      env.a.string.set("k", { m: new Map() }),
      /Cannot store the value of key 'k' as JSON: value.m is a Map/,
    );
    await assert.rejects(env.a.string.set("k", undefined), /value is a undefined/);
    await assert.rejects(env.a.hash.hset("h", { f: () => 1 }), /a function/);
    await assert.rejects(env.a.string.expire("k", 0), /'ttlMs' must be a positive integer/);
    await assert.rejects(env.a.getOrLoad("k", () => Promise.resolve(1), { ttlMs: 0 }), /'ttlMs'/);
    await assert.rejects(
      env.a.zset.add("z", { member: "m", score: NaN }),
      /'score' must be a number/,
    );
    await assert.rejects(
      env.a.string.incrBy("n", 1.5),
      (e: Error) => e instanceof RangeError && /'delta' must be a safe integer/.test(e.message),
    );
    await assert.rejects(env.a.string.incr(""), /'key' must be a non-empty string/);
    assert.equal(await env.a.string.exists("k"), 0, "nothing was written by the failed calls");
  });

  test("keyPrefix: nested prefixes ('n:' and 'n:x:') are disjoint; the backend key is prefix, U+001F, key", async () => {
    const base = testKeyspace("nested");
    const config = { ...cache.defaultConfig("development"), loadLeaseMs: 2000 };
    const logger = capturingLogger().logger;
    await using outer = await cache.create({ ...config, keyPrefix: `${base}n:` }, {
      driver: await options.makeDriver(),
      logger,
    });
    await using inner = await cache.create({ ...config, keyPrefix: `${base}n:x:` }, {
      driver: await options.makeDriver(),
      logger,
    });
    await inner.string.set("foo", "inner's");
    await inner.hash.hset("h", { f: 1 });
    assert.equal(await outer.string.get("x:foo"), undefined, "the outer prefix cannot read it");
    assert.equal(await outer.string.exists("x:foo", "x:h"), 0);
    await outer.string.set("x:foo", "outer's");
    assert.equal(await outer.string.del("x:foo", "x:h"), 1, "only its own key");
    assert.equal(await inner.string.get("foo"), "inner's", "nor overwrite or delete it");
    assert.deepEqual(await inner.hash.hgetAll("h"), { f: 1 });
    // The layout a service in another language computes: prefix + U+001F + key.
    await using raw = await backend();
    assert.equal(await raw.get(`${base}n:x:\x1ffoo`), JSON.stringify("inner's"));
    assert.equal(await raw.get(`${base}n:x:foo`), undefined);
    await assert.rejects(
      outer.string.get("x:\x1ffoo"),
      (e: Error) =>
        e instanceof TypeError && /'key' must not contain U\+001F.*"x:\\u001ffoo"/.test(e.message),
    );
    await assert.rejects(
      cache.create({ ...config, keyPrefix: `${base}n:\x1f` }, {
        driver: await options.makeDriver(),
      }),
      (e: Error) =>
        e instanceof TypeError && /'keyPrefix' must not contain U\+001F/.test(e.message),
    );
  });

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

  test("incrBy: counters stay safe integers; a result beyond is refused and the value kept", async () => {
    await using env = await pair("incr range");
    const { a, b } = env;
    const max = Number.MAX_SAFE_INTEGER;
    const unsafe = (e: Error) =>
      e instanceof RangeError && /beyond ±9007199254740991.*unchanged/.test(e.message);
    await a.string.set("n", max - 1);
    assert.equal(await a.string.incr("n"), max);
    await assert.rejects(a.string.incr("n"), unsafe);
    await assert.rejects(b.string.incrBy("n", max), unsafe);
    assert.equal(await b.string.get("n"), max);
    await a.string.set("m", -max);
    await assert.rejects(a.string.decr("m"), unsafe);
    assert.equal(await b.string.incrBy("m", max), 0);
    await a.hash.hset("h", { c: max });
    await assert.rejects(a.hash.hincrBy("h", "c", 1), unsafe);
    assert.equal(await b.hash.hget("h", "c"), max);
    assert.equal(await b.hash.hincrBy("h", "c", -2), max - 2, "odd, near 2^53: read exactly");
    for (const delta of [2 ** 53, -(2 ** 53), 1.5, NaN, Infinity]) {
      await assert.rejects(
        a.string.incrBy("n", delta),
        (e: Error) => e instanceof RangeError && /'delta' must be a safe integer/.test(e.message),
      );
    }
    await assert.rejects(a.string.incrBy("n", "1" as unknown as number), TypeError);
    // Integers another client stored beyond 2^53: exact arithmetic, Redis's syntax and int64 range.
    await using raw = await backend();
    const space = cache.keyspace(env.keyPrefix);
    await raw.set(space.key("test", "big"), "9007199254740993");
    assert.equal(await a.string.incrBy("big", -2), max, "exact, not rounded through a double");
    await raw.set(space.key("test", "big"), "9223372036854775807");
    await assert.rejects(a.string.incr("big"), unsafe, "int64 overflow");
    assert.equal(await raw.get(space.key("test", "big")), "9223372036854775807");
    for (const text of ["99999999999999999999", "007", "-0", "+1", " 1", "1.0", ""]) {
      await raw.set(space.key("test", "odd"), text);
      await assert.rejects(a.string.incr("odd"), /not an integer/, JSON.stringify(text));
    }
  });

  test("strings that are not well-formed Unicode are refused where they become keys, fields or members", async () => {
    await using env = await pair("unicode");
    const { a, b } = env;
    // On Redis both would be stored as "x" + U+FFFD: one key, one field, one member.
    for (const lone of ["x\ud800", "x\udc00", "\udfff", "a\ud800b"]) {
      const shown = JSON.stringify(lone).replaceAll("\\", "\\\\");
      const named = (name: string) => (e: Error) =>
        e instanceof TypeError &&
        new RegExp(`'${name}' must be well-formed Unicode: current value is ${shown}`).test(
          e.message,
        );
      for (
        const call of [
          () => a.string.set(lone, 1),
          () => a.string.get(lone),
          () => a.string.del("ok", lone),
          () => a.string.mset({ [lone]: 1 }),
          () => a.lock.tryAcquire(lone),
          () => a.getOrLoad(lone, () => Promise.resolve(1), { ttlMs: 1000 }),
        ]
      ) await assert.rejects(call(), named("key"));
      for (
        const call of [
          () => a.hash.hset("h", { [lone]: 1 }),
          () => a.hash.hget("h", lone),
          () => a.hash.hexists("h", lone),
          () => a.hash.hincrBy("h", lone, 1),
          () => a.hash.hdel("h", lone),
        ]
      ) await assert.rejects(call(), named("field"));
      for (
        const call of [
          () => a.set.add("s", "ok", lone),
          () => a.set.isMember("s", lone),
          () => a.zset.add("z", { member: lone, score: 1 }),
          () => a.zset.score("z", lone),
          () => a.zset.incrBy("z", lone, 1),
        ]
      ) await assert.rejects(call(), named("member"));
      await assert.rejects(
        cache.create({ ...cache.defaultConfig("development"), keyPrefix: lone }, {
          driver: await options.makeDriver(),
        }),
        named("keyPrefix"),
      );
    }
    assert.equal(await a.string.exists("ok"), 0, "nothing was written");
    assert.deepEqual(await a.set.members("s"), []);
    // JSON escapes lone surrogates, so values keep them, distinct; pairs (emoji) are well-formed.
    await a.string.set("v1", "x\ud800");
    await a.string.set("v2", "x\udc00");
    await a.hash.hset("😀", { "😀": "😀" });
    assert.deepEqual(await b.string.mget(["v1", "v2"]), ["x\ud800", "x\udc00"]);
    assert.deepEqual(await b.hash.hgetAll("😀"), { "😀": "😀" });
    // Another serializer's output is checked instead.
    await using raw = await cache.create(
      { ...cache.defaultConfig("development"), keyPrefix: env.keyPrefix },
      {
        driver: await options.makeDriver(),
        serializer: { encode: (value) => String(value), decode: (text) => text },
      },
    );
    await assert.rejects(
      raw.string.set("t", "x\ud800"),
      (e: Error) =>
        e instanceof TypeError && /serializer's output must be well-formed Unicode/.test(e.message),
    );
    await raw.string.set("t", "fine 😀");
    assert.equal(await raw.string.get("t"), "fine 😀");
  });
}
