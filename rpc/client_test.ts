/** serviceClient against real HTTP servers registered in a memory coord. */
import assert from "node:assert/strict";
import * as breaker from "../breaker/mod.ts";
import * as clog from "../clog/mod.ts";
import * as coord from "../coord/mod.ts";
import { serveHandler, traceMiddleware } from "../http/mod.ts";
import { quietLogger } from "../testing/logger.ts";
import { ServiceCallError, serviceClient, ServiceStatusError } from "./mod.ts";

interface Instance extends AsyncDisposable {
  readonly id: string;
  readonly calls: Request[];
  readonly seen: (string | undefined)[];
  server: Deno.HttpServer<Deno.NetAddr>;
}

/** An instance of im-repo: answers with `answer(request)` and records each call and its trace. */
async function instance(
  coordinator: coord.Coord,
  id: string,
  answer: (request: Request) => Response | Promise<Response>,
): Promise<Instance> {
  const calls: Request[] = [];
  const seen: (string | undefined)[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    serveHandler((request) => {
      calls.push(request);
      seen.push(clog.traceId());
      return answer(request);
    }, traceMiddleware()),
  );
  const registration = await coordinator.registry.register({
    id,
    name: "im-repo",
    address: "127.0.0.1",
    port: server.addr.port,
  });
  return {
    id,
    calls,
    seen,
    server,
    async [Symbol.asyncDispose]() {
      await registration.unregister().catch(() => {});
      await server.shutdown().catch(() => {});
    },
  };
}

const noBackoff = { maxRetries: 3, backoff: () => 0 };

Deno.test("serviceClient spreads calls over the registered instances and carries the caller's trace", async () => {
  await using coordinator = await coord.create(coord.defaultConfig("development"));
  await using a = await instance(coordinator, "a", () => Response.json({ from: "a" }));
  await using b = await instance(coordinator, "b", () => Response.json({ from: "b" }));
  const repo = serviceClient({ registry: coordinator.registry, service: "im-repo" });
  const traceId = clog.newTraceId();
  const answers = await clog.withTrace(traceId, async () => {
    const list = [];
    for (let i = 0; i < 4; i++) list.push((await repo.json<{ from: string }>("/m/1")).from);
    return list;
  });
  assert.deepEqual(answers.sort(), ["a", "a", "b", "b"], "round robin");
  assert.deepEqual([...a.seen, ...b.seen], [traceId, traceId, traceId, traceId]);
});

Deno.test("a failing instance: its 503s and its dead socket are retried on the other, and its breaker opens", async () => {
  await using coordinator = await coord.create(coord.defaultConfig("development"));
  await using breakers = await breaker.create({
    ...breaker.defaultConfig("development"),
    policies: { default: { failureRatio: 0.5, minCalls: 2, windowMs: 10_000, openMs: 60_000 } },
  }, { logger: quietLogger() });
  await using bad = await instance(coordinator, "bad", () => new Response("down", { status: 503 }));
  await using good = await instance(coordinator, "good", () => Response.json({ ok: true }));
  const repo = serviceClient({
    registry: coordinator.registry,
    service: "im-repo",
    breakers,
    retry: noBackoff,
  });
  for (let i = 0; i < 10; i++) assert.deepEqual(await repo.json("/m/1"), { ok: true });
  assert.equal(breakers.get("im-repo/bad").state, "open");
  assert.equal(bad.calls.length, 2, "two failures opened it; then it was skipped");
  assert.equal(good.calls.length, 10);

  await good.server.shutdown(); // registered but gone: connection refused
  await assert.rejects(
    repo.fetch("/m/2"),
    (error: Error) =>
      (error instanceof ServiceCallError && error.instance === "good" &&
        /Cannot call service 'im-repo' \(instance 'good' at 127\.0\.0\.1:\d+\)/.test(
          error.message,
        )) ||
      (error instanceof breaker.BreakerOpenError && error.breaker === "im-repo/bad"),
  );
  assert.equal(bad.calls.length, 2, "the open breaker kept the bad instance out");
});

Deno.test("a POST is retried only with an Idempotency-Key; a 4xx is not retried", async () => {
  await using coordinator = await coord.create(coord.defaultConfig("development"));
  let failures = 1;
  await using flaky = await instance(coordinator, "flaky", (request) => {
    if (new URL(request.url).pathname === "/missing") return new Response("no", { status: 404 });
    return failures-- > 0 ? new Response("busy", { status: 503 }) : new Response("stored");
  });
  const repo = serviceClient({
    registry: coordinator.registry,
    service: "im-repo",
    retry: noBackoff,
  });
  const plain = await repo.fetch("/messages", { method: "POST", body: "{}" });
  assert.equal(plain.status, 503, "not retried: the write may have happened");
  await plain.body?.cancel();
  failures = 1;
  const keyed = await repo.fetch("/messages", {
    method: "POST",
    body: "{}",
    headers: { "Idempotency-Key": "m-1" },
  });
  assert.equal(await keyed.text(), "stored");
  assert.equal(flaky.calls.length, 3);
  await assert.rejects(
    repo.json("/missing"),
    (error: Error) => error instanceof ServiceStatusError && error.status === 404,
  );
  assert.equal(flaky.calls.length, 4, "a 404 is an answer, not a failure");
});

Deno.test("the deadline covers the whole call; no instance is a NoInstanceError; bad options are refused", async () => {
  await using coordinator = await coord.create(coord.defaultConfig("development"));
  const repo = serviceClient({
    registry: coordinator.registry,
    service: "im-repo",
    timeoutMs: 300,
    retry: { maxRetries: 0 },
  });
  await assert.rejects(repo.fetch("/m/1"), coord.NoInstanceError);
  await using _slow = await instance(
    coordinator,
    "slow",
    () => new Promise((resolve) => setTimeout(() => resolve(new Response("late")), 900)),
  );
  const started = Date.now();
  await assert.rejects(repo.fetch("/m/1"), (error: Error) => error.name === "TimeoutError");
  assert.ok(Date.now() - started < 800, `gave up at the deadline (${Date.now() - started} ms)`);
  assert.throws(
    () => serviceClient({ registry: {} as never, service: "x" }),
    /'registry' must have pick\(service\)/,
  );
  assert.throws(
    () => serviceClient({ registry: coordinator.registry, service: "a/b" }),
    /'service' must be a registered service name: current value is "a\/b"/,
  );
  assert.throws(
    () => serviceClient({ registry: coordinator.registry, service: "x", timeoutMs: 0 }),
    /'timeoutMs' must be a positive integer: current value is 0/,
  );
  await assert.rejects(repo.fetch("m/1"), /'path' must start with '\/'/);
});
