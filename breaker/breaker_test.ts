import assert from "node:assert/strict";
import * as coord from "../coord/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { FakeClock } from "../testing/clock.ts";
import { capturingLogger } from "../testing/logger.ts";
import * as metrics from "../metrics/mod.ts";
import * as breaker from "./mod.ts";

const ok = () => Promise.resolve("ok");
const down = () => Promise.reject(new Error("503"));

/** A provider with one policy for every breaker, a fake clock and captured logs and changes. */
async function setup(policy: breaker.Policy, options: Partial<breaker.CreateOptions> = {}) {
  const clock = new FakeClock(1_000_000);
  const { logger, logs } = capturingLogger();
  const changes: string[] = [];
  const breakers = await breaker.create({ policies: { default: policy } }, {
    clock,
    logger,
    onStateChange: ({ breaker, from, to }) => changes.push(`${breaker}: ${from} → ${to}`),
    ...options,
  });
  return { clock, logs, changes, breakers, b: breakers.get("payments") };
}

/** Runs `fn` through `b`, turning the outcome into a word: ok, the error's message, or "open". */
function outcome(b: breaker.Breaker, fn: () => Promise<string>): Promise<string> {
  return b.do(fn).catch((error: Error) =>
    error instanceof breaker.BreakerOpenError ? `rejected (${error.state})` : error.message
  );
}

Deno.test("opens when the failure ratio over the window reaches the policy's, once minCalls were made", async () => {
  const { b, changes, logs } = await setup({ failureRatio: 0.5, minCalls: 4, openMs: 5_000 });
  assert.equal(await outcome(b, ok), "ok");
  assert.equal(await outcome(b, down), "503");
  assert.equal(await outcome(b, down), "503", "2 of 3 failed, but fewer than minCalls");
  assert.equal(b.state, "closed");
  assert.equal(await outcome(b, ok), "ok", "4 calls, 2 failures: 50%, yet the last one succeeded");
  assert.equal(b.state, "closed", "a success does not open it");
  assert.equal(await outcome(b, down), "503");
  assert.equal(b.state, "open", "3 of 5 failed");
  let ran = false;
  await assert.rejects(
    b.do(() => {
      ran = true;
      return ok();
    }),
    (error: breaker.BreakerOpenError) =>
      error.code === "BREAKER_OPEN" && error.breaker === "payments" &&
      error.retryAfterMs === 5_000 &&
      /'payments' is open: calls resume in 5000 ms/.test(error.message),
  );
  assert.equal(ran, false, "an open breaker does not run the call");
  assert.deepEqual(changes, ["payments: closed → open"]);
  assert.ok(logs.records.some((r) => r.level === "warn" && r.msg === "circuit breaker open"));
  assert.equal(b.stats().rejected, 1);
});

Deno.test("opens on consecutive failures whatever the ratio; a success resets the run", async () => {
  const { b } = await setup({ consecutiveFailures: 3, minCalls: 1_000 });
  for (const fn of [down, down, ok, down, down]) await outcome(b, fn);
  assert.equal(b.state, "closed");
  assert.equal(b.stats().consecutiveFailures, 2);
  await outcome(b, down);
  assert.equal(b.state, "open");
});

Deno.test("after openMs one probe goes through: success closes, failure opens again", async () => {
  const { b, clock, changes } = await setup({ consecutiveFailures: 1, openMs: 1_000 });
  await outcome(b, down);
  clock.advance(999);
  assert.equal(await outcome(b, ok), "rejected (open)");
  clock.advance(1);
  assert.equal(b.state, "half-open");
  // The probe fails: open again, for a whole openMs from now.
  assert.equal(await outcome(b, down), "503");
  assert.equal(b.state, "open");
  clock.advance(999);
  assert.equal(await outcome(b, ok), "rejected (open)");
  clock.advance(1);
  // One probe at a time: a second call while it runs is rejected.
  let finish!: (value: string) => void;
  const probe = b.do(() => new Promise<string>((resolve) => (finish = resolve)));
  assert.equal(await outcome(b, ok), "rejected (half-open)");
  finish("recovered");
  assert.equal(await probe, "recovered");
  assert.equal(b.state, "closed");
  assert.deepEqual(b.stats().calls, 0, "a closed breaker starts a new window");
  assert.deepEqual(changes, [
    "payments: closed → open",
    "payments: open → half-open",
    "payments: half-open → open",
    "payments: open → half-open",
    "payments: half-open → closed",
  ]);
});

Deno.test("a probe that never settles times out after openMs, so the breaker cannot stay half-open", async () => {
  const { b, clock } = await setup({ consecutiveFailures: 1, openMs: 30 });
  await outcome(b, down);
  clock.advance(30);
  let seen: AbortSignal | undefined;
  await assert.rejects(
    b.do(({ signal }) => {
      seen = signal;
      return new Promise<string>(() => {});
    }),
    (error: breaker.BreakerTimeoutError) => error.timeoutMs === 30,
  );
  assert.equal(seen?.aborted, true);
  assert.equal(b.state, "open", "the hung probe counted as a failure");
  clock.advance(30);
  assert.equal(await outcome(b, ok), "ok");
  assert.equal(b.state, "closed");
});

Deno.test("halfOpenCalls probes must all succeed to close", async () => {
  const { b, clock } = await setup({ consecutiveFailures: 1, openMs: 10, halfOpenCalls: 2 });
  await outcome(b, down);
  clock.advance(10);
  assert.equal(await outcome(b, ok), "ok");
  assert.equal(b.state, "half-open", "one of two probes");
  assert.equal(await outcome(b, ok), "ok");
  assert.equal(b.state, "closed");
});

Deno.test("failures older than the window no longer count", async () => {
  const { b, clock } = await setup({ failureRatio: 0.5, minCalls: 4, windowMs: 10_000 });
  await outcome(b, down);
  await outcome(b, down);
  await outcome(b, down);
  clock.advance(10_000); // those three leave the window
  assert.deepEqual([b.stats().calls, b.stats().failures], [0, 0]);
  await outcome(b, ok);
  await outcome(b, ok);
  await outcome(b, ok);
  await outcome(b, down);
  assert.equal(b.state, "closed", "1 of 4 in the window");
});

Deno.test("isFailure: errors the dependency answered with count as successes, and are still thrown", async () => {
  class NotFound extends Error {}
  const { b } = await setup({ consecutiveFailures: 2 }, {
    isFailure: (error) => !(error instanceof NotFound),
  });
  for (let i = 0; i < 5; i++) {
    await assert.rejects(b.do(() => Promise.reject(new NotFound("no such user"))), NotFound);
  }
  assert.equal(b.state, "closed");
  assert.equal(b.stats().failures, 0);
});

Deno.test("a call that started before a change of state does not count after it", async () => {
  const { b, clock } = await setup({ consecutiveFailures: 1, openMs: 100 });
  let failSlow!: (error: Error) => void;
  const slow = b.do(() => new Promise<string>((_, reject) => (failSlow = reject)));
  await outcome(b, down); // opens
  clock.advance(100);
  assert.equal(await outcome(b, ok), "ok"); // the probe closes it
  failSlow(new Error("late 503"));
  await assert.rejects(slow, /late 503/);
  assert.equal(b.state, "closed", "the late failure belonged to the earlier closed period");
});

Deno.test("timeoutMs: a slow call fails with BreakerTimeoutError, counts as a failure, and its signal aborts", async () => {
  const { b } = await setup({ consecutiveFailures: 1, timeoutMs: 20 });
  let seen: AbortSignal | undefined;
  await assert.rejects(
    b.do(({ signal }) => {
      seen = signal;
      return new Promise<string>(() => {});
    }),
    (error: breaker.BreakerTimeoutError) =>
      error.code === "BREAKER_TIMEOUT" && error.timeoutMs === 20 &&
      /longer than 20 ms/.test(error.message),
  );
  assert.equal(seen?.aborted, true);
  assert.equal(b.state, "open");
  const quick = await setup({ timeoutMs: 1_000 });
  assert.equal(await quick.b.do(ok), "ok", "a call within the limit clears its timer");
});

Deno.test("the caller's signal: refused once aborted, ends a call at once, and counts for nothing", async () => {
  const { b, clock } = await setup({ consecutiveFailures: 1, openMs: 100 });
  const gone = new AbortController();
  gone.abort(new Error("caller left"));
  let ran = false;
  await assert.rejects(
    b.do(() => {
      ran = true;
      return ok();
    }, { signal: gone.signal }),
    /caller left/,
  );
  assert.equal(ran, false);
  const leaving = new AbortController();
  let seen: AbortSignal | undefined;
  const pending = b.do(({ signal }) => {
    seen = signal;
    return new Promise<string>(() => {});
  }, { signal: leaving.signal });
  leaving.abort(new Error("request over"));
  await assert.rejects(pending, /request over/);
  assert.equal(seen?.aborted, true);
  assert.equal(b.state, "closed", "an abandoned call is not a failure");
  assert.equal(b.stats().calls, 0);
  // An abandoned probe frees its slot for the next one.
  await outcome(b, down);
  clock.advance(100);
  const probeLeaving = new AbortController();
  const probe = b.do(() => new Promise<string>(() => {}), { signal: probeLeaving.signal });
  probeLeaving.abort(new Error("probe caller left"));
  await assert.rejects(probe, /probe caller left/);
  assert.equal(await outcome(b, ok), "ok");
  assert.equal(b.state, "closed");
});

Deno.test("breakers are per name; a name without a policy gets `default`", async () => {
  const breakers = await breaker.create({
    policies: { default: { consecutiveFailures: 1 }, search: { consecutiveFailures: 3 } },
  }, { logger: capturingLogger().logger });
  assert.equal(breakers.get("users"), breakers.get("users"), "one breaker per name");
  await outcome(breakers.get("users"), down);
  await outcome(breakers.get("search"), down);
  assert.equal(breakers.get("users").state, "open");
  assert.equal(breakers.get("search").state, "closed");
  assert.equal(breakers.get("orders").state, "closed", "the others are untouched");
  assert.equal(breakers.policies().search.openMs, 30_000, "defaults fill the rest");
  await breakers.close();
});

Deno.test("breaker names are own keys only: Object.prototype's names get the default policy", async () => {
  const names = ["constructor", "toString", "valueOf", "__proto__", "hasOwnProperty"];
  await using breakers = await breaker.create({
    policies: { default: { consecutiveFailures: 2, openMs: 60_000 } },
  }, { logger: capturingLogger().logger });
  for (const name of names) {
    const b = breakers.get(name);
    assert.equal(await outcome(b, down), "503");
    assert.equal(await outcome(b, down), "503");
    assert.equal(b.state, "open", `'${name}' opens under the default policy`);
    assert.equal(await outcome(b, ok), "rejected (open)");
  }
  // The same names as real policies, as a JSON config delivers them (`__proto__` an own key).
  await using named = await breaker.create({
    policies: JSON.parse(
      '{"default": {"consecutiveFailures": 5}, "__proto__": {"consecutiveFailures": 1}, "constructor": {"consecutiveFailures": 1}}',
    ),
  }, { logger: capturingLogger().logger });
  for (const name of ["__proto__", "constructor"]) {
    await outcome(named.get(name), down);
    assert.equal(named.get(name).state, "open", `'${name}' has its own policy`);
  }
  await outcome(named.get("consecutiveFailures"), down);
  assert.equal(named.get("consecutiveFailures").state, "closed", "a field is no policy");
  assert.equal(named.policies().default.consecutiveFailures, 5);
  for (const field of ["constructor", "toString", "__proto__"]) {
    await assert.rejects(
      breaker.create({ policies: JSON.parse(`{"default": {"${field}": 1}}`) }),
      new RegExp(`'${field}' is not a policy field`),
    );
  }
});

Deno.test("hot-reloaded policies look names up as own keys only", async () => {
  const { logger } = capturingLogger();
  await using center = await coord.create(coord.defaultConfig("development"), { logger });
  const key = coord.configKey("test", "api", "breaker");
  await center.config.set(key, { default: { consecutiveFailures: 1 } });
  await using breakers = await breaker.create({
    ...breaker.defaultConfig("development"),
    env: "test",
    service: "api",
  }, { coord: center, logger });
  await center.config.set(
    key,
    JSON.parse('{"default": {"consecutiveFailures": 2}, "__proto__": {}}'),
  );
  await eventually(() => assert.equal(breakers.policies().default.consecutiveFailures, 2));
  await outcome(breakers.get("valueOf"), down);
  await outcome(breakers.get("valueOf"), down);
  assert.equal(breakers.get("valueOf").state, "open");
  await outcome(breakers.get("openMs"), down);
  await outcome(breakers.get("openMs"), down);
  assert.equal(breakers.get("openMs").state, "open", "a policy's field is no policy");
  await outcome(breakers.get("__proto__"), down);
  assert.equal(breakers.get("__proto__").state, "closed", "its own policy: all defaults");
});

Deno.test("policies hot-reload from the config center; an invalid one keeps the last good one", async () => {
  const { logger, logs } = capturingLogger();
  await using center = await coord.create(coord.defaultConfig("development"), { logger });
  const key = coord.configKey("test", "api", "breaker");
  await center.config.set(key, { default: { consecutiveFailures: 1 } });
  await using breakers = await breaker.create({
    ...breaker.defaultConfig("development"),
    env: "test",
    service: "api",
  }, { coord: center, logger });
  await outcome(breakers.get("a"), down);
  assert.equal(breakers.get("a").state, "open");
  await center.config.set(key, { default: { consecutiveFailures: 3 } });
  await eventually(() => assert.equal(breakers.policies().default.consecutiveFailures, 3));
  await outcome(breakers.get("b"), down);
  await outcome(breakers.get("b"), down);
  assert.equal(breakers.get("b").state, "closed", "the new policy applies without a restart");
  await center.config.set(key, { default: { failureRatio: 2 } });
  await eventually(() =>
    assert.ok(logs.records.some((r) => /'failureRatio' must be/.test(String(r.fields.reason))))
  );
  assert.equal(breakers.policies().default.consecutiveFailures, 3, "the last good policy stays");
});

Deno.test("bad input gets a clear error naming the problem", async () => {
  const make = (policies: unknown) =>
    breaker.create({ policies } as breaker.BreakerConfig, { logger: capturingLogger().logger });
  await assert.rejects(make([]), /must be an object of named policies/);
  await assert.rejects(make({ a: 5 }), /policy 'a' as it is not an object/);
  await assert.rejects(make({ a: { ratio: 0.5 } }), /'ratio' is not a policy field \(allowed: /);
  await assert.rejects(make({ a: { failureRatio: 0 } }), /'failureRatio' must be a number above 0/);
  await assert.rejects(make({ a: { minCalls: 0 } }), /'minCalls' must be a positive integer/);
  await assert.rejects(make({ a: { timeoutMs: -1 } }), /'timeoutMs' must be an integer from 0/);
  await assert.rejects(
    make({ a: { windowMs: 5 } }),
    /'windowMs' must be an integer of at least 10/,
  );
  await assert.rejects(make({ a: { openMs: 1.5 } }), /'openMs' must be a positive integer/);
  await assert.rejects(make({ a: { timeoutMs: 3e9 } }), /'timeoutMs' must be an integer from 0/);
  await assert.rejects(
    breaker.create(breaker.defaultConfig("development"), {
      isFailure: "yes" as unknown as () => boolean,
    }),
    /'isFailure' must be a function/,
  );
  await using center = await coord.create();
  await assert.rejects(
    breaker.create(breaker.defaultConfig("development"), { coord: center }),
    /'env' and 'service' are needed/,
  );
  assert.throws(() => breaker.defaultConfig("staging" as "production"), /'env' must be/);
  await using breakers = await breaker.create();
  assert.throws(() => breakers.get(""), /'name' must be a non-empty string/);
  await assert.rejects(
    breakers.get("a").do("run" as unknown as () => number),
    /'fn' must be a function/,
  );
  await assert.rejects(
    breakers.get("a").do(ok, { signal: "soon" as unknown as AbortSignal }),
    /'signal' must be an AbortSignal/,
  );
});

Deno.test("with metrics, state and call outcomes are recorded per breaker", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"));
  const { b, clock } = await setup({ consecutiveFailures: 2, openMs: 100 }, { metrics: registry });
  const line = (name: string) =>
    (registry.render() ?? "").split("\n").find((l) => l.startsWith(name))?.split(" ")[1];
  assert.equal(line('breaker_state{breaker="payments"}'), "0");
  await outcome(b, ok);
  await outcome(b, down);
  await outcome(b, down);
  await outcome(b, ok); // rejected
  assert.equal(line('breaker_state{breaker="payments"}'), "2");
  assert.equal(line('breaker_calls_total{breaker="payments",outcome="success"}'), "1");
  assert.equal(line('breaker_calls_total{breaker="payments",outcome="failure"}'), "2");
  assert.equal(line('breaker_calls_total{breaker="payments",outcome="rejected"}'), "1");
  clock.advance(100);
  await outcome(b, ok);
  assert.equal(line('breaker_state{breaker="payments"}'), "0", "half-open, then closed");
});

Deno.test("fn gets one Call, { signal }, whose signal aborts when the caller's does", async () => {
  const { b } = await setup({});
  const calls: breaker.Call[] = [];
  await b.do((call) => calls.push(call));
  assert.deepEqual(Object.keys(calls[0]), ["signal"]);
  assert.equal(calls[0].signal.aborted, false, "no caller's signal, no timeout: never aborts");
  assert.ok(Object.isFrozen(calls[0]), "the hot path shares one frozen Call");
  const caller = new AbortController();
  const running = b.do((call) => {
    calls.push(call);
    return new Promise<never>(() => {});
  }, { signal: caller.signal });
  caller.abort(new Error("caller left"));
  await assert.rejects(running, /caller left/);
  assert.deepEqual(Object.keys(calls[1]), ["signal"]);
  assert.equal(calls[1].signal.aborted, true);
  assert.equal(calls[1].signal.reason.message, "caller left");
});
