/** breaker's OpenTelemetry span events, on the caller's span (an in-memory SDK registered). */
import assert from "node:assert/strict";
import { quietLogger } from "../testing/logger.ts";
import { recordSpans } from "../testing/otel.ts";
import * as breaker from "./mod.ts";

const down = () => Promise.reject(new Error("503"));
const ok = () => Promise.resolve(1);

Deno.test("a call rejected by an open breaker adds breaker.rejected to the active span", async () => {
  using recorder = recordSpans();
  let now = 0;
  await using breakers = await breaker.create({
    policies: { default: { consecutiveFailures: 2, openMs: 1_000 } },
  }, { logger: quietLogger(), clock: { now: () => now } });
  const payments = breakers.get("payments");
  await assert.rejects(payments.do(down), /503/);
  await assert.rejects(payments.do(down), /503/);
  now = 400;

  const request = recorder.startSpan("POST /checkout");
  await assert.rejects(recorder.runIn(request, () => payments.do(ok)), breaker.BreakerOpenError);
  request.end();
  assert.deepEqual(request.events, [{
    name: "breaker.rejected",
    attributes: {
      "breaker.name": "payments",
      "breaker.state": "open",
      "breaker.retry_after_ms": 600,
    },
  }]);
  assert.equal(recorder.spans.length, 1, "breakers make no span of their own");
});

Deno.test("a call rejected while every half-open probe slot is taken adds breaker.rejected, state half-open", async () => {
  using recorder = recordSpans();
  let now = 0;
  await using breakers = await breaker.create({
    policies: { default: { consecutiveFailures: 1, openMs: 1_000, halfOpenCalls: 1 } },
  }, { logger: quietLogger(), clock: { now: () => now } });
  const search = breakers.get("search");
  await assert.rejects(search.do(down), /503/);
  now = 1_000;
  let release!: (value: number) => void;
  const probe = search.do(() => new Promise<number>((resolve) => release = resolve));

  const request = recorder.startSpan("GET /search");
  await assert.rejects(recorder.runIn(request, () => search.do(ok)), breaker.BreakerOpenError);
  request.end();
  release(1);
  await probe;
  assert.deepEqual(request.events, [{
    name: "breaker.rejected",
    attributes: {
      "breaker.name": "search",
      "breaker.state": "half-open",
      "breaker.retry_after_ms": 0,
    },
  }]);
});

Deno.test("a call that moves the breaker adds breaker.state_change to the caller's span", async () => {
  using recorder = recordSpans();
  let now = 0;
  await using breakers = await breaker.create({
    policies: { default: { consecutiveFailures: 1, openMs: 1_000 } },
  }, { logger: quietLogger(), clock: { now: () => now } });
  const mail = breakers.get("mail");

  const failing = recorder.startSpan("send welcome mail");
  await assert.rejects(recorder.runIn(failing, () => mail.do(down)), /503/);
  failing.end();
  now = 1_000;
  const probing = recorder.startSpan("send reminder");
  await recorder.runIn(probing, () => mail.do(ok));
  probing.end();

  const change = (from: string, to: string) => ({
    name: "breaker.state_change",
    attributes: { "breaker.name": "mail", "breaker.state.from": from, "breaker.state": to },
  });
  assert.deepEqual(failing.events, [change("closed", "open")]);
  assert.deepEqual(probing.events, [change("open", "half-open"), change("half-open", "closed")]);
});
