/**
 * The behaviour every rate-limit driver must show, as `Deno.test` cases, with
 * two limiters (two instances) on one backend. Timing is real here; exact
 * decisions under an injected clock are tested on the memory driver.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { rateLimitConformance } from "@gochat/kit/ratelimit/conformance";
 * import { redisRateLimit } from "@gochat/kit/drivers/redis";
 *
 * rateLimitConformance({ name: "redis", makeDriver: () => redisRateLimit({ url }) });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../testing/keyspace.ts";
import * as ratelimit from "./mod.ts";

/** How to run the suite against one driver. */
export interface RateLimitSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per limiter. */
  makeDriver(): ratelimit.RateLimitDriver;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the rate-limit conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function rateLimitConformance(options: RateLimitSuiteOptions): void {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${options.name}] ratelimit: ${title}`, ignore: options.ignore, fn });

  // One namespace for the run: the limiters of one case share buckets, as services would.
  const keyPrefix = testKeyspace("ratelimit");
  const limiter = (
    rules: Record<string, ratelimit.Rule>,
    config: Partial<ratelimit.RateLimitConfig> = {},
  ) =>
    ratelimit.create({ ...ratelimit.defaultConfig("development"), rules, keyPrefix, ...config }, {
      driver: options.makeDriver(),
    });

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await limiter({});
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), ratelimit.DriverError);
  });

  for (const algorithm of ["token-bucket", "gcra"] as const) {
    test(`${algorithm}: the burst passes at once, then the rate; a rejection consumes nothing`, async () => {
      await using a = await limiter({ r: { algorithm, rate: 10, burst: 5 } });
      const key = testKeyspace(algorithm);
      for (let i = 0; i < 5; i++) {
        assert.equal((await a.allow(key, "r")).allowed, true, `request ${i + 1}`);
      }
      const denied = await a.allow(key, "r");
      assert.equal(denied.allowed, false);
      assert.ok(
        denied.retryAfterMs > 0 && denied.retryAfterMs <= 100,
        `retryAfterMs ${denied.retryAfterMs}`,
      );
      assert.equal(denied.limit, 5);
      for (let i = 0; i < 5; i++) {
        assert.equal((await a.allow(key, "r")).allowed, false, "rejections take nothing");
      }
      const waitedFrom = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 130));
      let regained = 0;
      for (let i = 0; i < 5; i++) if ((await a.allow(key, "r")).allowed) regained++;
      const elapsedMs = Date.now() - waitedFrom;
      // One token per 100 ms: at least one after 130 ms, and never more than the time allows.
      assert.ok(regained >= 1, "a token came back");
      assert.ok(regained <= Math.ceil(elapsedMs / 100), `${regained} tokens after ${elapsedMs} ms`);
    });
  }

  test("weighted cost: allowN takes n units or nothing", async () => {
    await using a = await limiter({ r: { rate: 1, burst: 10 } });
    const key = testKeyspace("weighted");
    const first = await a.allowN(key, "r", 7);
    assert.equal(first.allowed, true);
    assert.equal(first.remaining, 3);
    assert.equal((await a.allowN(key, "r", 7)).allowed, false);
    assert.equal((await a.allowN(key, "r", 3)).allowed, true, "the rejected 7 took nothing");
    assert.equal((await a.allowN(key, "r", 11)).allowed, false, "more than the burst never passes");
  });

  test("two limiters share one bucket: 100/s with burst 10 over 3 s allow about 310", async () => {
    await using a = await limiter({ r: { rate: 100, burst: 10 } });
    await using b = await limiter({ r: { rate: 100, burst: 10 } });
    const key = testKeyspace("shared");
    let allowed = 0;
    const deadline = Date.now() + 3000;
    await Promise.all([a, b].map(async (provider) => {
      while (Date.now() < deadline) {
        if ((await provider.allow(key, "r")).allowed) allowed++;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    }));
    assert.ok(Math.abs(allowed - 310) <= 310 * 0.05, `allowed ${allowed}, expected 310 ± 5%`);
  });

  test("a rule switched to the other algorithm (a reload) keeps the key's state: the same limit", async () => {
    const key = testKeyspace("switch");
    {
      await using a = await limiter({ r: { rate: 1, burst: 2 } });
      assert.equal((await a.allowN(key, "r", 2)).allowed, true);
      assert.equal((await a.allow(key, "r")).allowed, false);
    }
    await using b = await limiter({ r: { algorithm: "gcra", rate: 1, burst: 2 } });
    const after = await b.allow(key, "r");
    assert.equal(after.allowed, false, "still empty under gcra");
    assert.ok(after.retryAfterMs > 0 && after.retryAfterMs <= 1000, `retry ${after.retryAfterMs}`);
  });

  test("allow takes a signal: an aborted call rejects with its reason and takes nothing", async () => {
    await using a = await limiter({ r: { rate: 1, burst: 2 } });
    const key = testKeyspace("signal");
    const controller = new AbortController();
    const first = await a.allow(key, "r", { signal: controller.signal });
    assert.deepEqual([first.allowed, first.remaining], [true, 1]);
    controller.abort(new Error("request over"));
    await assert.rejects(a.allow(key, "r", { signal: controller.signal }), /request over/);
    await assert.rejects(a.allowN(key, "r", 1, { signal: controller.signal }), /request over/);
    const after = await a.allow(key, "r");
    assert.deepEqual([after.allowed, after.remaining], [true, 0], "the aborted calls took nothing");
    await assert.rejects(
      a.allow(key, "r", { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });

  test("keys and rules are separate buckets", async () => {
    await using a = await limiter({ one: { rate: 1, burst: 1 }, two: { rate: 1, burst: 1 } });
    const key = testKeyspace("separate");
    assert.equal((await a.allow(key, "one")).allowed, true);
    assert.equal((await a.allow(key, "one")).allowed, false);
    assert.equal((await a.allow(key, "two")).allowed, true);
    assert.equal((await a.allow(`${key}-other`, "one")).allowed, true);
  });

  test("rule names are own keys only: Object.prototype's names are unknown rules", async () => {
    const inherited = ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty"];
    await using deny = await limiter({ r: { rate: 1, burst: 1 } });
    await using fallback = await limiter({ default: { rate: 1, burst: 2 } }, {
      unknownRule: "default",
    });
    for (const name of inherited) {
      const key = testKeyspace(`inherited ${name}`);
      for (let i = 0; i < 20; i++) {
        assert.equal((await deny.allow(key, name)).allowed, false, `'${name}' is denied`);
      }
      const underDefault = [];
      for (let i = 0; i < 3; i++) underDefault.push((await fallback.allow(key, name)).allowed);
      assert.deepEqual(underDefault, [true, true, false], `'${name}' gets the default rule`);
    }
    // The same names as real rules, as a JSON config delivers them (`__proto__` an own key).
    const own = JSON.parse(
      '{"constructor": {"rate": 1, "burst": 1}, "__proto__": {"rate": 1, "burst": 2}}',
    );
    await using named = await limiter(own);
    const key = testKeyspace("own names");
    assert.deepEqual(
      [
        (await named.allow(key, "constructor")).allowed,
        (await named.allow(key, "constructor")).allowed,
      ],
      [true, false],
    );
    const proto = [];
    for (let i = 0; i < 3; i++) proto.push((await named.allow(key, "__proto__")).limit);
    assert.deepEqual(proto, [2, 2, 2], "the rule named __proto__ applies");
    for (const field of ["rate", "burst", "algorithm"]) {
      assert.equal((await named.allow(key, field)).allowed, false, `'${field}' is no rule`);
    }
  });

  test("a rule name and a key never share a bucket with another split of the same text", async () => {
    await using a = await limiter({ a: { rate: 1, burst: 1 }, "a:b": { rate: 1, burst: 1 } });
    const key = testKeyspace("split");
    assert.equal((await a.allow(`b:${key}`, "a")).allowed, true);
    assert.equal((await a.allow(`b:${key}`, "a")).allowed, false);
    assert.equal((await a.allow(key, "a:b")).allowed, true, "rule a:b has its own bucket");
    assert.equal((await a.allow(key, "a:b")).allowed, false);
  });

  test("keys that are not well-formed Unicode are refused (Redis would fold them into one)", async () => {
    await using a = await limiter({ a: { rate: 1, burst: 1 } });
    const key = testKeyspace("lone");
    for (const lone of [`${key}\ud800`, `${key}\udc00`]) {
      await assert.rejects(a.allow(lone, "a"), /'key' must be a non-empty, well-formed Unicode/);
    }
  });
}
