/** coord's OpenTelemetry spans on the memory driver: one span per wait for a lock or leadership. */
import assert from "node:assert/strict";
import { quietLogger } from "../testing/logger.ts";
import { recordSpans } from "../testing/otel.ts";
import * as coord from "./mod.ts";

const provider = () => coord.create(coord.defaultConfig("development"), { logger: quietLogger() });
const tick = () => new Promise((resolve) => setTimeout(resolve, 10));

Deno.test("lock acquire: one span covers the wait, child of the caller's span, with the lock's name, driver and fencing token", async () => {
  using recorder = recordSpans();
  await using c = await provider();
  const holder = await c.lock.acquire("orders/42");
  const job = recorder.startSpan("job");
  const waiting = recorder.runIn(job, () => c.lock.acquire("orders/42"));
  await tick();
  const [, span] = recorder.named("lock acquire");
  const endedWhileHeld = span?.ended;
  await holder.unlock();
  await using lock = await waiting;
  job.end();

  assert.equal(endedWhileHeld, false, "still waiting while the lock is held");
  assert.equal(span.ended, true);
  assert.equal(span.kind, 0, "internal");
  assert.equal(span.parentSpanId, job.spanId);
  assert.equal(span.traceId, job.traceId);
  assert.equal(span.status.code, 0);
  assert.ok(lock.token > holder.token);
  assert.deepEqual(span.attributes, {
    "lock.name": "orders/42",
    "db.system": "memory",
    "lock.outcome": "acquired",
    "lock.fencing_token": lock.token,
  });
});

Deno.test("lock acquire: a wait the caller aborts ends its span as an error, without a token", async () => {
  using recorder = recordSpans();
  await using c = await provider();
  await using _holder = await c.lock.acquire("orders/7");
  const job = recorder.startSpan("job");
  const stop = new AbortController();
  const waiting = recorder.runIn(job, () => c.lock.acquire("orders/7", { signal: stop.signal }));
  await tick();
  stop.abort(new Error("gave up"));
  await assert.rejects(waiting, /gave up/);
  job.end();

  const [, span] = recorder.named("lock acquire");
  assert.equal(span.parentSpanId, job.spanId);
  assert.equal(span.ended, true);
  assert.deepEqual(span.status, { code: 2, message: "gave up" });
  assert.equal(span.attributes["lock.outcome"], "aborted");
  assert.equal(span.attributes["lock.fencing_token"], undefined);
});

Deno.test("lock tryAcquire: a span whose outcome says whether the lock was taken", async () => {
  using recorder = recordSpans();
  await using c = await provider();
  const job = recorder.startSpan("job");
  const first = await recorder.runIn(job, () => c.lock.tryAcquire("jobs/nightly"));
  const second = await recorder.runIn(job, () => c.lock.tryAcquire("jobs/nightly"));
  job.end();
  assert.ok(first);
  assert.equal(second, null);
  await first.unlock();

  const [taken, busy] = recorder.named("lock tryAcquire");
  assert.equal(taken.parentSpanId, job.spanId);
  assert.deepEqual(taken.attributes, {
    "lock.name": "jobs/nightly",
    "db.system": "memory",
    "lock.outcome": "acquired",
    "lock.fencing_token": first.token,
  });
  assert.equal(busy.parentSpanId, job.spanId);
  assert.equal(busy.attributes["lock.outcome"], "busy");
  assert.equal(busy.status.code, 0);
});

Deno.test("election campaign: one span covers the wait for leadership, with the election's name and term token", async () => {
  using recorder = recordSpans();
  await using c = await provider();
  const election = c.election("scheduler");
  const leader = await election.campaign("a");
  const job = recorder.startSpan("startup");
  const waiting = recorder.runIn(job, () => election.campaign("b"));
  await tick();
  const [first, span] = recorder.named("election campaign");
  const endedWhileLed = span?.ended;
  await leader.resign();
  await using next = await waiting;
  job.end();

  assert.equal(first.attributes["election.outcome"], "elected");
  assert.equal(first.attributes["election.fencing_token"], leader.token);
  assert.equal(endedWhileLed, false, "still campaigning while another leads");
  assert.equal(span.ended, true);
  assert.equal(span.parentSpanId, job.spanId);
  assert.equal(span.traceId, job.traceId);
  assert.equal(span.status.code, 0);
  assert.deepEqual(span.attributes, {
    "election.name": "scheduler",
    "db.system": "memory",
    "election.outcome": "elected",
    "election.fencing_token": next.token,
  });
});

Deno.test("election campaign: an aborted campaign ends its span as an error", async () => {
  using recorder = recordSpans();
  await using c = await provider();
  const election = c.election("scheduler");
  await using _leader = await election.campaign("a");
  const stop = new AbortController();
  const job = recorder.startSpan("startup");
  const waiting = recorder.runIn(job, () => election.campaign("b", { signal: stop.signal }));
  await tick();
  stop.abort(new Error("shutting down"));
  await assert.rejects(waiting, /shutting down/);
  job.end();

  const [, span] = recorder.named("election campaign");
  assert.equal(span.parentSpanId, job.spanId);
  assert.deepEqual(span.status, { code: 2, message: "shutting down" });
  assert.equal(span.attributes["election.outcome"], "aborted");
  assert.equal(span.attributes["election.fencing_token"], undefined);
});
