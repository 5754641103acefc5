import assert from "node:assert/strict";
import { rateLimitConformance } from "../../ratelimit/conformance.ts";
import * as ratelimit from "../../ratelimit/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { serverAvailable, startServer } from "../../testing/server.ts";
import { serviceUrl } from "../../testing/services.ts";
import { redisCache, redisRateLimit } from "./mod.ts";
import { capturingLogger } from "../../testing/logger.ts";

const url = serviceUrl("redis");

rateLimitConformance({
  name: "redis",
  makeDriver: () => redisRateLimit({ url }),
  ignore: url === undefined,
});

const worker = new URL("./testdata/ratelimit_worker.ts", import.meta.url).pathname;

Deno.test({
  name: "[redis] ratelimit: two processes share one bucket — 100/s, burst 10, 3 s allow about 310",
  ignore: url === undefined,
  async fn() {
    const key = testKeyspace("two processes");
    const startAt = Date.now() + 1500; // both start together, after the child has loaded
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", worker, url ?? "", key, String(startAt)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    await using limiter = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      keyPrefix: "",
      rules: { r: { rate: 100, burst: 10 } },
    }, { driver: redisRateLimit({ url }) });
    await new Promise((resolve) => setTimeout(resolve, startAt - Date.now()));
    let allowed = 0;
    while (Date.now() < startAt + 3000) {
      if ((await limiter.allow(key, "r")).allowed) allowed++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const output = await child.output();
    const theirs = Number(new TextDecoder().decode(output.stdout).trim());
    const total = allowed + theirs;
    assert.ok(theirs > 0 && allowed > 0, `both processes got some: ${allowed} + ${theirs}`);
    assert.ok(Math.abs(total - 310) <= 310 * 0.05, `allowed ${total}, expected 310 ± 5%`);
  },
});

Deno.test({
  name:
    "[redis] ratelimit: Redis killed mid-run — fail open stays bounded by the rescue limiter, fail closed denies",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    const { logger, logs } = capturingLogger();
    const rules = { r: { rate: 1, burst: 3 } };
    await using open = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      keyPrefix: "",
      rules,
      failPolicy: "open",
    }, {
      driver: redisRateLimit({ url: server.url, logger }),
      logger,
    });
    await using closed = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      keyPrefix: "",
      rules,
      failPolicy: "closed",
    }, {
      driver: redisRateLimit({ url: server.url, logger }),
      logger,
    });
    assert.equal((await open.allow("k", "r")).allowed, true);
    assert.equal((await closed.allow("k2", "r")).allowed, true);
    await server.kill();
    const during = [];
    for (let i = 0; i < 10; i++) during.push((await open.allow("k", "r")).allowed);
    assert.equal(
      during.filter(Boolean).length,
      3,
      "open: the in-process rescue limiter still enforces the burst",
    );
    assert.equal(
      (await closed.allow("k2", "r")).allowed,
      false,
      "closed: denied while Redis is down",
    );
    assert.ok(logs.records.some((r) => r.msg === "rate-limit backend unreachable; failing open"));
    await server.start();
    await eventually(async () => assert.equal((await closed.allow("fresh", "r")).allowed, true), {
      timeoutMs: 10_000,
    });
  },
});

Deno.test({
  name:
    "[redis] ratelimit: Redis stopped (SIGSTOP) — fail open still admits the rule's rate, not one burst per timeout",
  ignore: !serverAvailable("redis"),
  async fn() {
    await using server = await startServer("redis");
    const { logger } = capturingLogger();
    await using limiter = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      keyPrefix: "",
      rules: { r: { rate: 50, burst: 10 } },
      failPolicy: "open",
    }, { driver: redisRateLimit({ url: server.url, logger, commandTimeoutMs: 500 }), logger });
    assert.equal((await limiter.allow("warm", "r")).allowed, true);
    Deno.kill(server.pid!, "SIGSTOP");
    try {
      // 20 callers, each awaiting its decision, then 5 ms of work: while every call waited for
      // the timeout they came in waves, and each wave got one burst.
      const startedAt = Date.now();
      let allowed = 0;
      await Promise.all(Array.from({ length: 20 }, async () => {
        while (Date.now() - startedAt < 3000) {
          if ((await limiter.allow("k", "r")).allowed) allowed++;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }));
      // Every call arrived within the 3 s, and is judged as of its arrival.
      const limit = 10 + 50 * 3;
      // The first calls wait out one timeout (0.5 s) before the outage is known: the burst then,
      // the burst again after it, then 50 a second.
      const expected = 10 + 10 + 50 * 2.5;
      assert.ok(
        allowed <= limit && allowed >= expected * 0.95,
        `${allowed} allowed in a 3 s outage, expected about ${expected}`,
      );
    } finally {
      Deno.kill(server.pid!, "SIGCONT");
    }
  },
});

Deno.test({
  name: "[redis] ratelimit: every bucket key carries an expiry",
  ignore: url === undefined,
  async fn() {
    const key = testKeyspace("expiry");
    await using limiter = await ratelimit.create({
      ...ratelimit.defaultConfig("production"),
      rules: { r: { rate: 10, burst: 5 }, g: { algorithm: "gcra", rate: 10, burst: 5 } },
      keyPrefix: "rl-test:",
    }, { driver: redisRateLimit({ url }) });
    // Many requests: most keep the TTL (same slot), a new slot sets it again; none drops it.
    for (let i = 0; i < 40; i++) {
      await limiter.allow(key, "r");
      await limiter.allow(key, "g");
    }
    const raw = redisCache({ url });
    await raw.ping();
    try {
      for (const bucket of [`rl-test:rl:1:r:${key}`, `rl-test:rl:1:g:${key}`]) {
        // Full again at most 500 ms on (five requests of 100 ms each); the key outlives that by
        // 5-10 s (its slot).
        const ttl = await raw.ttl(bucket);
        assert.ok(ttl >= 5000 && ttl <= 10_500, `${bucket} ttl ${ttl}`);
      }
      // One request leaves a bucket full 1 s later; nine more move that 9 s on, into a later
      // slot, so the expiry must move too: past 10 s + 5 s.
      const slow = await ratelimit.create({
        ...ratelimit.defaultConfig("production"),
        rules: { s: { rate: 1, burst: 10 } },
        keyPrefix: "rl-test:",
      }, { driver: redisRateLimit({ url }) });
      try {
        assert.equal((await slow.allow(key, "s")).allowed, true);
        assert.equal((await slow.allowN(key, "s", 9)).allowed, true);
      } finally {
        await slow.close();
      }
      const ttl = await raw.ttl(`rl-test:rl:1:s:${key}`);
      assert.ok(ttl >= 14_900 && ttl <= 20_100, `ttl ${ttl} after the bucket moved slots`);
    } finally {
      await raw.close();
    }
  },
});
