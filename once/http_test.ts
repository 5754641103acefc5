import assert from "node:assert/strict";
import { create, type Executor } from "./mod.ts";
import { idempotencyHandler, type IdempotencyHandlerOptions } from "./http.ts";

const info = {} as Deno.ServeHandlerInfo;

function post(key: string, headers: Record<string, string> = {}, body = '{"amount":10}') {
  return new Request("http://x/orders", {
    method: "POST",
    body,
    headers: { "Idempotency-Key": key, ...headers },
  });
}

/** A handler that counts its runs and answers with the caller's credential and the run number. */
function ordersHandler(options: Partial<IdempotencyHandlerOptions>, once: Executor) {
  const runs: string[] = [];
  const handler = idempotencyHandler(once, { ttlMs: 60_000, ...options })((request) => {
    const who = request.headers.get("authorization") ?? request.headers.get("cookie") ?? "anon";
    runs.push(who);
    return new Response(`order ${runs.length} for ${who}`, { status: 201 });
  });
  return { handler, runs };
}

Deno.test("two users with the same key and body each get their own response", async () => {
  await using once = await create();
  const { handler, runs } = ordersHandler({}, once);
  const ann = { Authorization: "Bearer ann-token" };
  const bob = { Authorization: "Bearer bob-token" };
  assert.equal(await (await handler(post("k1", ann), info)).text(), "order 1 for Bearer ann-token");
  assert.equal(await (await handler(post("k1", bob), info)).text(), "order 2 for Bearer bob-token");
  const replay = await handler(post("k1", ann), info);
  assert.equal(replay.status, 201);
  assert.equal(await replay.text(), "order 1 for Bearer ann-token");
  assert.equal(await (await handler(post("k1", bob), info)).text(), "order 2 for Bearer bob-token");
  assert.equal(runs.length, 2);
});

Deno.test("users told apart by their session cookie each get their own response", async () => {
  await using once = await create();
  const { handler, runs } = ordersHandler({}, once);
  assert.equal(
    await (await handler(post("k1", { Cookie: "sid=ann" }), info)).text(),
    "order 1 for sid=ann",
  );
  assert.equal(
    await (await handler(post("k1", { Cookie: "sid=bob" }), info)).text(),
    "order 2 for sid=bob",
  );
  assert.equal(
    await (await handler(post("k1", { Cookie: "sid=ann" }), info)).text(),
    "order 1 for sid=ann",
  );
  assert.equal(runs.length, 2);
});

Deno.test("requests without a credential share the anonymous scope", async () => {
  await using once = await create();
  const { handler, runs } = ordersHandler({}, once);
  assert.equal(await (await handler(post("k1"), info)).text(), "order 1 for anon");
  assert.equal(await (await handler(post("k1"), info)).text(), "order 1 for anon");
  assert.equal(runs.length, 1);
});

Deno.test("the stored key holds a digest of the scope, never the credential", async () => {
  await using once = await create();
  const keys: string[] = [];
  const recording: Executor = {
    execute: (key, ttlMs, fn, options) => {
      keys.push(key);
      return once.execute(key, ttlMs, fn, options);
    },
  };
  const { handler } = ordersHandler({}, recording);
  await (await handler(post("k1", { Authorization: "Bearer s3cret", Cookie: "sid=c00kie" }), info))
    .body?.cancel();
  assert.equal(keys.length, 1);
  assert.match(keys[0], /^http:[0-9a-f]{64}:k1$/);
  assert.ok(!keys[0].includes("s3cret") && !keys[0].includes("c00kie"), keys[0]);
});

Deno.test("a scope option (async) decides who shares a key", async () => {
  await using once = await create();
  const { handler, runs } = ordersHandler({
    scope: (request) => Promise.resolve(request.headers.get("x-tenant") ?? ""),
  }, once);
  const first = await handler(post("k1", { Authorization: "Bearer ann", "X-Tenant": "t1" }), info);
  assert.equal(await first.text(), "order 1 for Bearer ann");
  // Another user of the same tenant retries the tenant's request: replayed.
  const sameTenant = await handler(
    post("k1", { Authorization: "Bearer bob", "X-Tenant": "t1" }),
    info,
  );
  assert.equal(await sameTenant.text(), "order 1 for Bearer ann");
  const otherTenant = await handler(
    post("k1", { Authorization: "Bearer ann", "X-Tenant": "t2" }),
    info,
  );
  assert.equal(await otherTenant.text(), "order 2 for Bearer ann");
  assert.equal(runs.length, 2);
});

Deno.test("bad options and a scope that returns no string are refused, naming the field", async () => {
  await using once = await create();
  assert.throws(
    () => idempotencyHandler(once, { ttlMs: 0 }),
    RangeError,
    "'ttlMs' must be a positive integer: current value is 0",
  );
  assert.throws(
    // @ts-expect-error: a string where a function belongs
    () => idempotencyHandler(once, { ttlMs: 1_000, scope: "tenant" }),
    /'scope' must be a function: current value is tenant/,
  );
  assert.throws(
    // @ts-expect-error: a boolean where a function belongs
    () => idempotencyHandler(once, { ttlMs: 1_000, storeStatus: false }),
    /'storeStatus' must be a function: current value is false/,
  );
  // @ts-expect-error: a number where a string belongs
  const { handler } = ordersHandler({ scope: () => 42 }, once);
  await assert.rejects(
    handler(post("k1"), info),
    /'scope' must return a string: current value is 42/,
  );
});

/** A handler answering with `statuses` in turn, then 201. */
function failingHandler(
  statuses: number[],
  options: Partial<IdempotencyHandlerOptions>,
  once: Executor,
) {
  const sent: Response[] = [];
  const handler = idempotencyHandler(once, { ttlMs: 60_000, ...options })(() => {
    const status = statuses[sent.length] ?? 201;
    const response = new Response(`attempt ${sent.length + 1}: ${status}`, { status });
    sent.push(response);
    return response;
  });
  return { handler, sent };
}

Deno.test("a 5xx is passed on, not stored: the client's retry runs again", async () => {
  await using once = await create();
  const { handler, sent } = failingHandler([503, 500], {}, once);
  const first = await handler(post("k1"), info);
  assert.equal(await first.text(), "attempt 1: 503");
  assert.equal(await (await handler(post("k1"), info)).text(), "attempt 2: 500");
  const third = await handler(post("k1"), info);
  assert.equal(third.status, 201);
  assert.equal(await third.text(), "attempt 3: 201");
  const replay = await handler(post("k1"), info);
  assert.equal(await replay.text(), "attempt 3: 201");
  assert.equal(sent.length, 3);
  assert.equal(first, sent[0], "the handler's own 503 is passed on untouched");
});

Deno.test("429 and 408 are not stored either: the request did not run", async () => {
  await using once = await create();
  const { handler, sent } = failingHandler([429, 408], {}, once);
  assert.equal((await handler(post("k1"), info)).status, 429);
  assert.equal((await handler(post("k1"), info)).status, 408);
  assert.equal((await handler(post("k1"), info)).status, 201);
  assert.equal((await handler(post("k1"), info)).status, 201);
  assert.equal(sent.length, 3);
});

Deno.test("a 4xx is final: stored and replayed like a success", async () => {
  await using once = await create();
  const { handler, sent } = failingHandler([400], {}, once);
  assert.equal(await (await handler(post("k1"), info)).text(), "attempt 1: 400");
  const replay = await handler(post("k1"), info);
  assert.equal(replay.status, 400);
  assert.equal(await replay.text(), "attempt 1: 400");
  assert.equal(sent.length, 1);
});

Deno.test("storeStatus decides which statuses are stored", async () => {
  await using once = await create();
  const all = failingHandler([503], { storeStatus: () => true }, once);
  assert.equal(await (await all.handler(post("k1"), info)).text(), "attempt 1: 503");
  assert.equal(await (await all.handler(post("k1"), info)).text(), "attempt 1: 503");
  assert.equal(all.sent.length, 1);
  const successes = failingHandler([400], { storeStatus: (status) => status < 400 }, once);
  assert.equal(await (await successes.handler(post("k2"), info)).text(), "attempt 1: 400");
  assert.equal(await (await successes.handler(post("k2"), info)).text(), "attempt 2: 201");
  assert.equal(await (await successes.handler(post("k2"), info)).text(), "attempt 2: 201");
  assert.equal(successes.sent.length, 2);
});

Deno.test("a response with immutable headers (a redirect) is stored and replayed", async () => {
  await using once = await create();
  let runs = 0;
  const handler = idempotencyHandler(once, { ttlMs: 60_000 })(() => {
    runs++;
    return Response.redirect("http://x/orders/1", 303);
  });
  for (let i = 0; i < 2; i++) {
    const response = await handler(post("k1"), info);
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "http://x/orders/1");
    await response.body?.cancel();
  }
  assert.equal(runs, 1);
});
