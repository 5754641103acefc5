/**
 * The kit's middleware in a real Hono application (npm:hono, a test-only dependency): the
 * rate-limit key and the idempotency scope read the user Hono's auth middleware set, the body stays
 * readable for Hono's handlers, and metrics label requests with the router's template.
 */
import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { honoMiddleware } from "./mod.ts";
import * as ratelimit from "../ratelimit/mod.ts";
import * as once from "../once/mod.ts";
import * as metrics from "../metrics/mod.ts";
import { quietLogger } from "../testing/logger.ts";

type Env = { Variables: { user: string } };

/** An app whose auth middleware sets the user from `Authorization: User <name>`. */
function appWithUser(): Hono<Env> {
  const app = new Hono<Env>();
  app.use(async (c, next) => {
    const user = c.req.header("authorization")?.replace(/^User /, "");
    if (!user) return c.text("unauthorized", 401);
    c.set("user", user);
    await next();
  });
  return app;
}

const as = (user: string, init: RequestInit = {}): RequestInit => ({
  ...init,
  headers: { ...init.headers as Record<string, string>, authorization: `User ${user}` },
});

Deno.test("Hono: the rate-limit key reads the user from Hono's context; a redirect still gets the headers", async () => {
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { api: { rate: 1, burst: 2 } },
  });
  const app = appWithUser();
  app.use(
    "/api/*",
    honoMiddleware(ratelimit.rateLimitMiddleware(limiter, {
      rule: "api",
      key: (_request, c: Context<Env>) => c.get("user"),
    })),
  );
  app.get("/api/rooms", (c) => c.json({ rooms: [], user: c.get("user") }));
  app.get("/api/old", (c) => c.redirect("/api/rooms", 301));

  const first = await app.request("/api/rooms", as("ann"));
  assert.equal(first.status, 200);
  assert.deepEqual(await first.json(), { rooms: [], user: "ann" });
  assert.equal(first.headers.get("ratelimit-remaining"), "1");
  const redirect = await app.request("/api/old", as("ann"));
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.get("location"), "/api/rooms");
  assert.equal(redirect.headers.get("ratelimit-remaining"), "0");
  const limited = await app.request("/api/rooms", as("ann"));
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  // Another user has a bucket of their own.
  const bob = await app.request("/api/rooms", as("bob"));
  assert.equal(bob.status, 200);
  assert.equal(bob.headers.get("ratelimit-remaining"), "1");
});

Deno.test("Hono: the idempotency scope is Hono's user; the handler still reads the body", async () => {
  await using store = await once.create(once.defaultConfig("development"));
  const app = appWithUser();
  let orders = 0;
  app.post(
    "/orders",
    honoMiddleware(once.idempotencyMiddleware(store, {
      ttlMs: 60_000,
      scope: (_request, c: Context<Env>) => c.get("user"),
    })),
    async (c) => {
      const body = await c.req.json<{ item: string }>();
      const raw = await c.req.raw.text(); // the raw request is readable too
      return c.json({ order: ++orders, item: body.item, user: c.get("user"), raw }, 201);
    },
  );
  const post = (user: string, key: string, item = "tea") =>
    app.request(
      "/orders",
      as(user, {
        method: "POST",
        body: JSON.stringify({ item }),
        headers: { "idempotency-key": key, "content-type": "application/json" },
      }),
    );

  const first = await post("ann", "k1");
  assert.equal(first.status, 201);
  const created = await first.json();
  assert.deepEqual(created, { order: 1, item: "tea", user: "ann", raw: '{"item":"tea"}' });
  const replay = await post("ann", "k1");
  assert.equal(replay.status, 201);
  assert.deepEqual(await replay.json(), created);
  // Same key and body from another user: runs for that user, never sees ann's order.
  assert.deepEqual(await (await post("bob", "k1")).json(), {
    order: 2,
    item: "tea",
    user: "bob",
    raw: '{"item":"tea"}',
  });
  assert.equal((await post("ann", "k1", "coffee")).status, 422);
  assert.equal(orders, 2);
  const missing = await app.request("/orders", as("ann", { method: "POST", body: "{}" }));
  assert.equal(missing.status, 400);
});

Deno.test("Hono: metrics label a request with the router's template, mounted sub-apps included", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"), {
    logger: quietLogger(),
  });
  const app = new Hono();
  app.use(honoMiddleware(registry.middleware<Context>()));
  app.get("/rooms/:id/messages", (c) => c.json({ room: c.req.param("id") }));
  app.get("/boom", () => {
    throw new Error("boom");
  });
  const api = new Hono();
  api.get("/items/:slug", (c) => c.text(c.req.param("slug")));
  app.route("/api", api);

  assert.deepEqual(await (await app.request("/rooms/r1/messages")).json(), { room: "r1" });
  assert.equal((await app.request("/rooms/general/messages")).status, 200);
  assert.equal(await (await app.request("/api/items/blue-mug")).text(), "blue-mug");
  assert.equal((await app.request("/boom")).status, 500);
  assert.equal((await app.request("/nowhere")).status, 404);

  const text = registry.render()!;
  const count = (route: string, status: number) =>
    text.match(
      new RegExp(
        `^http_requests_total\\{method="GET",route="${route}",status="${status}"\\} (\\d+)$`,
        "m",
      ),
    )?.[1];
  assert.equal(count("/rooms/:id/messages", 200), "2");
  assert.equal(count("/api/items/:slug", 200), "1");
  assert.equal(count("/boom", 500), "1");
  assert.equal(count("\\(not found\\)", 404), "1");
  assert.doesNotMatch(text, /r1|general|blue-mug/);
});

Deno.test("Hono: an app served by Deno.serve behind the kit's middleware, over real HTTP", async () => {
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { api: { rate: 1, burst: 1 } },
  });
  const app = new Hono();
  app.use(honoMiddleware(ratelimit.rateLimitMiddleware(limiter, {
    rule: "api",
    key: (request) => request.headers.get("x-client") ?? "anonymous",
  })));
  app.get("/", (c) => c.text("hello"));
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const ok = await fetch(url, { headers: { "x-client": "a" } });
    assert.equal(await ok.text(), "hello");
    assert.equal(ok.headers.get("ratelimit-limit"), "1");
    const limited = await fetch(url, { headers: { "x-client": "a" } });
    await limited.body?.cancel();
    assert.equal(limited.status, 429);
  } finally {
    await server.shutdown();
  }
});
