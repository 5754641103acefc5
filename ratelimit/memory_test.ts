import assert from "node:assert/strict";
import * as coord from "../coord/mod.ts";
import * as metrics from "../metrics/mod.ts";
import { FakeClock } from "../testing/clock.ts";
import { eventually } from "../testing/eventually.ts";
import { rateLimitConformance } from "./conformance.ts";
import * as ratelimit from "./mod.ts";
import { capturingLogger } from "../testing/logger.ts";

const shared = ratelimit.memoryRateLimit();
// Two limiters on one memory driver stand for two instances on one backend.
rateLimitConformance({
  name: "memory",
  makeDriver: () => ({
    name: "memory",
    take: shared.take.bind(shared),
    ping: shared.ping.bind(shared),
    close: () => Promise.resolve(),
  }),
});

Deno.test("token bucket with an injected clock gives the exact expected decisions", async () => {
  const clock = new FakeClock(0);
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { r: { rate: 2, burst: 3 } },
  }, {
    driver: ratelimit.memoryRateLimit({ clock }),
  });
  const take = async () => {
    const { allowed, remaining, retryAfterMs, resetMs } = await limiter.allow("k", "r");
    return { allowed, remaining, retryAfterMs, resetMs };
  };
  assert.deepEqual(await take(), { allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 500 });
  assert.deepEqual(await take(), { allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 1000 });
  assert.deepEqual(await take(), { allowed: true, remaining: 0, retryAfterMs: 0, resetMs: 1500 });
  assert.deepEqual(await take(), {
    allowed: false,
    remaining: 0,
    retryAfterMs: 500,
    resetMs: 1500,
  });
  clock.advance(499);
  assert.equal((await take()).allowed, false);
  clock.advance(1);
  assert.deepEqual(await take(), { allowed: true, remaining: 0, retryAfterMs: 0, resetMs: 1500 });
  clock.advance(10_000);
  assert.deepEqual(
    await take(),
    { allowed: true, remaining: 2, retryAfterMs: 0, resetMs: 500 },
    "refilled to the burst, not beyond",
  );
});

Deno.test("GCRA with an injected clock gives the exact expected decisions", async () => {
  const clock = new FakeClock(0);
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { r: { algorithm: "gcra", rate: 10, burst: 2 } },
  }, { driver: ratelimit.memoryRateLimit({ clock }) });
  assert.deepEqual(await limiter.allow("k", "r"), {
    allowed: true,
    remaining: 1,
    retryAfterMs: 0,
    resetMs: 100,
    limit: 2,
  });
  assert.deepEqual(await limiter.allow("k", "r"), {
    allowed: true,
    remaining: 0,
    retryAfterMs: 0,
    resetMs: 200,
    limit: 2,
  });
  assert.deepEqual(await limiter.allow("k", "r"), {
    allowed: false,
    remaining: 0,
    retryAfterMs: 100,
    resetMs: 200,
    limit: 2,
  });
  clock.advance(100);
  assert.equal((await limiter.allow("k", "r")).allowed, true);
  assert.equal((await limiter.allow("k", "r")).allowed, false);
});

Deno.test("unknown rule names follow the documented policy", async () => {
  const rules = { default: { rate: 1, burst: 1 } };
  await using deny = await ratelimit.create({ ...ratelimit.defaultConfig("development"), rules });
  await using allow = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules,
    unknownRule: "allow",
  });
  await using fallback = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules,
    unknownRule: "default",
  });
  assert.equal((await deny.allow("k", "nope")).allowed, false);
  assert.equal((await allow.allow("k", "nope")).allowed, true);
  assert.equal((await fallback.allow("k", "nope")).allowed, true);
  assert.equal((await fallback.allow("k", "nope")).allowed, false, "the default rule's bucket");
});

Deno.test("rules hot-reload from the config center; an invalid rule keeps the last good one", async () => {
  const { logger, logs } = capturingLogger();
  await using center = await coord.create(coord.defaultConfig("development"), { logger });
  const key = coord.configKey("test", "api", "ratelimit");
  await center.config.set(key, { login: { rate: 1, burst: 1 } });
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    env: "test",
    service: "api",
  }, {
    coord: center,
  });
  assert.equal((await limiter.allow("u", "login")).allowed, true);
  assert.equal((await limiter.allow("u", "login")).allowed, false);
  await center.config.set(key, { login: { rate: 1, burst: 100 } });
  await eventually(() => assert.equal(limiter.rules().login.burst, 100));
  assert.equal((await limiter.allow("u2", "login")).allowed, true);
  await center.config.set(key, { login: { rate: -1, burst: 5 } });
  await eventually(() =>
    assert.ok(logs.records.some((r) => /'rate' must be positive/.test(String(r.fields.reason))))
  );
  assert.equal(limiter.rules().login.burst, 100, "the last good rule stays");
});

Deno.test("hot-reloaded rules look names up as own keys only", async () => {
  const { logger } = capturingLogger();
  await using center = await coord.create(coord.defaultConfig("development"), { logger });
  const key = coord.configKey("test", "api", "ratelimit");
  await center.config.set(key, { login: { rate: 1, burst: 1 } });
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    env: "test",
    service: "api",
  }, { coord: center, logger });
  // As a JSON config delivers it: `__proto__` is an own key, a rule like any other.
  await center.config.set(
    key,
    JSON.parse('{"login": {"rate": 1, "burst": 3}, "__proto__": {"rate": 1, "burst": 1}}'),
  );
  await eventually(() => assert.equal(limiter.rules().login.burst, 3));
  for (const name of ["constructor", "toString", "rate", "burst"]) {
    assert.equal((await limiter.allow("u", name)).allowed, false, `'${name}' is no rule`);
  }
  assert.equal((await limiter.allow("u", "__proto__")).allowed, true);
  assert.equal((await limiter.allow("u", "__proto__")).allowed, false, "its own burst of 1");
});

Deno.test("the memory driver is bounded in keys and forgets idle buckets", async () => {
  const clock = new FakeClock(0);
  const driver = ratelimit.memoryRateLimit({ clock, maxKeys: 100 });
  const rule = { algorithm: "token-bucket" as const, rate: 10, burst: 1 };
  for (let i = 0; i < 250; i++) driver.takeSync("r", `k${i}`, rule, 1);
  assert.equal(driver.size, 100);
  assert.equal(driver.takeSync("r", "k249", rule, 1).allowed, false, "the newest are kept");
  assert.equal(driver.takeSync("r", "k0", rule, 1).allowed, true, "the oldest were dropped");
  clock.advance(2000);
  driver.sweep();
  assert.equal(driver.size, 0, "full buckets are forgotten");
  await driver.close();
});

Deno.test("at its bound the memory driver drops an idle bucket before a busy one", async () => {
  const clock = new FakeClock(0);
  const driver = ratelimit.memoryRateLimit({ clock, maxKeys: 2 });
  const rule = { algorithm: "token-bucket" as const, rate: 2, burst: 5 };
  driver.takeSync("r", "busy", rule, 5); // empty: full again after 2.5 s, idle after 3.5 s
  driver.takeSync("r", "idle", rule, 1); // full again after 0.5 s, idle after 1.5 s
  clock.advance(1600);
  driver.takeSync("r", "new", rule, 1);
  assert.equal(driver.size, 2);
  const busy = driver.takeSync("r", "busy", rule, 5);
  assert.equal(busy.allowed, false, "the busy bucket was kept, still short of tokens");
  await driver.close();
});

Deno.test("each rule has its own buckets, and a rule switched to the other algorithm keeps its state", async () => {
  const clock = new FakeClock(0);
  const driver = ratelimit.memoryRateLimit({ clock });
  const bucket = { algorithm: "token-bucket" as const, rate: 1, burst: 2 };
  const gcra = { algorithm: "gcra" as const, rate: 1, burst: 2 };
  assert.equal(driver.takeSync("a", "k", bucket, 2).allowed, true);
  assert.equal(driver.takeSync("b", "k", bucket, 2).allowed, true, "rule b has its own bucket");
  assert.equal(driver.takeSync("a", "k", bucket, 1).allowed, false);
  assert.equal(driver.takeSync("a", "k", gcra, 1).allowed, false, "the same limit, still empty");
  clock.advance(1000);
  const refilled = driver.takeSync("a", "k", gcra, 1);
  assert.deepEqual([refilled.allowed, refilled.remaining], [true, 0]);
  await driver.close();
});

Deno.test("bad input gets a clear error", async () => {
  await assert.rejects(
    ratelimit.create({
      ...ratelimit.defaultConfig("development"),
      rules: { r: { rate: 0, burst: 1 } },
    }),
    /'rate' must be positive/,
  );
  await assert.rejects(
    ratelimit.create({
      ...ratelimit.defaultConfig("development"),
      rules: { r: { rate: 1, burst: 0.5 } },
    }),
    /'burst' must be a positive integer/,
  );
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { r: { rate: 1, burst: 1 } },
  });
  await assert.rejects(limiter.allow("", "r"), /'key' must be a non-empty, well-formed/);
  await assert.rejects(limiter.allowN("k", "r", 0), /'n' must be a positive integer/);
});

Deno.test("decisions equal a reference token bucket's over 20,000 random requests", () => {
  // The kit keeps one number per key (GCRA); the claim is that it decides exactly as a token
  // bucket that counts tokens. A seeded generator keeps the run reproducible.
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  for (
    const rule of [
      { algorithm: "token-bucket" as const, rate: 3, burst: 5 },
      { algorithm: "gcra" as const, rate: 0.5, burst: 2 },
      { algorithm: "token-bucket" as const, rate: 1000, burst: 50 },
    ]
  ) {
    const clock = new FakeClock(1_700_000_000_000);
    const driver = ratelimit.memoryRateLimit({ clock });
    let tokens = rule.burst;
    let countedAt = clock.now();
    let allowedCost = 0;
    const startedAt = clock.now();
    for (let i = 0; i < 20_000 / 3; i++) {
      clock.advance(Math.floor(random() * (3000 / rule.rate)));
      const cost = 1 + Math.floor(random() * Math.min(3, rule.burst));
      tokens = Math.min(rule.burst, tokens + (clock.now() - countedAt) * rule.rate / 1000);
      countedAt = clock.now();
      // Float slack of a millionth of a token: the reference's own sums drift by a few ulps.
      const expected = tokens >= cost - 1e-6;
      if (expected) tokens -= cost;
      const decision = driver.takeSync("r", "k", rule, cost);
      assert.equal(decision.allowed, expected, `request ${i} of ${JSON.stringify(rule)}`);
      assert.equal(decision.remaining, Math.max(0, Math.floor(tokens + 1e-6)), `remaining at ${i}`);
      if (decision.allowed) allowedCost += cost;
    }
    const elapsedS = (clock.now() - startedAt) / 1000;
    assert.ok(allowedCost <= rule.burst + rule.rate * elapsedS + 1e-6, "never more than the limit");
  }
});

Deno.test("with metrics, decisions are counted by rule; unknown rule names as (unknown)", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"));
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { login: { rate: 1, burst: 2 } },
  }, { metrics: registry });
  for (let i = 0; i < 3; i++) await limiter.allow("u", "login");
  await limiter.allow("u", "no-such-rule");
  await limiter.allowN("u", "login", 5); // more than the burst: denied
  const text = registry.render() ?? "";
  assert.match(text, /^ratelimit_decisions_total\{rule="login",decision="allowed"\} 2$/m);
  assert.match(text, /^ratelimit_decisions_total\{rule="login",decision="denied"\} 2$/m);
  assert.match(text, /^ratelimit_decisions_total\{rule="\(unknown\)",decision="denied"\} 1$/m);
});
