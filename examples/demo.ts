/**
 * A tour of every component, on memory drivers: no service needed.
 *
 * Run: deno task demo
 */
import {
  breaker,
  cache,
  clog,
  coord,
  db,
  es,
  metrics,
  mq,
  once,
  ratelimit,
  retry,
  uid,
} from "../mod.ts";

const out = (text = ""): void => console.log(text);
const heading = (title: string): void =>
  out(Deno.noColor ? `\n== ${title} ==` : `\n\x1b[1m== ${title} ==\x1b[0m`);

heading("clog: structured logging");
out("Development format (readable, colored when the terminal allows), level debug:");
clog.init({ ...clog.defaultConfig("development"), namespace: "demo" });
const repo = clog.namespace("im").namespace("repo").with({ shard: 3 });
repo.debug("connected", { pool: 8 });
await clog.withTrace(clog.newTraceId(), async () => {
  repo.info("message saved", { id: 42 });
  await new Promise((resolve) => setTimeout(resolve, 1));
  repo.warn("slow write, still the same trace after a timer", { ms: 120 });
});
repo.error("query failed", {
  err: new Error("insert failed", { cause: new Error("connection reset") }),
});
clog.setLevel("warn");
repo.info("this info line is dropped: the level was raised to warn at run time");
repo.warn("only warn and above now");

out("\nProduction format: one JSON object per line, straight to stdout:");
using production = clog.create(clog.defaultConfig("production"));
clog.withTrace("4bf92f3577b34da6a3ce929d0e0e4736", () => {
  production.namespace("orders").with({ user_id: 7 }).info("order placed", { total: 12.5 });
});

heading("uid: unique ids");
const first = uid.uuidv7();
const second = uid.uuidv7();
out(`UUIDv7:        ${first}`);
out(`next UUIDv7:   ${second}  (sorts after the first: ${second > first})`);
out(`embedded time: ${new Date(uid.uuidv7Time(first)).toISOString()}`);

await using ids = await uid.create({ ...uid.defaultConfig("development"), workerId: 5 });
const id = ids.nextId();
const parts = ids.parse(id);
out(`Snowflake:     ${id} (bigint), as string ${ids.nextIdString()}`);
out(
  `parsed:        time ${
    new Date(parts.timestampMs).toISOString()
  }, worker ${parts.workerId}, sequence ${parts.sequence}`,
);
const started = performance.now();
const burst = new Set<bigint>();
for (let i = 0; i < 20_000; i++) burst.add(ids.nextId());
const elapsedMs = performance.now() - started;
out(
  `20,000 ids in ${
    elapsedMs.toFixed(1)
  } ms: ${burst.size} distinct (at most 4,096 per ms per worker)`,
);

heading("coord: registry, config hot reload, locks (memory driver)");
// Warnings only from the provider itself, so the tour stays readable.
const coordLogger = clog.create({ ...clog.defaultConfig("development"), level: "warn" }).namespace(
  "coord",
);
await using c = await coord.create(coord.defaultConfig("development"), { logger: coordLogger });
await c.registry.register({ id: "logic-1", name: "im-logic", address: "10.0.0.11", port: 9001 });
await c.registry.register({ id: "logic-2", name: "im-logic", address: "10.0.0.12", port: 9001 });
const instances = await c.registry.discover("im-logic");
out(
  `discovered ${instances.length} instances of im-logic: ${instances.map((i) => i.id).join(", ")}`,
);
const picks: string[] = [];
for (let i = 0; i < 4; i++) picks.push((await c.registry.pick("im-logic")).id);
out(`round-robin picks: ${picks.join(" → ")}`);

const rulesKey = coord.configKey("dev", "im-logic", "ratelimit");
await c.config.set(rulesKey, { rate: 100, burst: 10 });
const validate = (value: unknown) => {
  const rule = value as { rate?: unknown; burst?: unknown };
  if (typeof rule?.rate !== "number" || rule.rate <= 0) {
    throw new TypeError("rate must be positive");
  }
  return value as { rate: number; burst: number };
};
await using rules = await c.config.manager(rulesKey, { default: { rate: 1, burst: 1 }, validate });
out(`config ${rulesKey} = ${JSON.stringify(rules.current)}`);
const changed = new Promise<void>((resolve) => {
  const stop = rules.onChange((next, previous) => {
    out(`hot reload: ${JSON.stringify(previous)} → ${JSON.stringify(next)}`);
    stop();
    resolve();
  });
});
await c.config.set(rulesKey, { rate: 500, burst: 50 });
await changed;
await c.config.set(rulesKey, { rate: -1, burst: 0 });
await new Promise((resolve) => setTimeout(resolve, 20));
out(
  `after an invalid update the manager keeps ${
    JSON.stringify(rules.current)
  } (the warning above says why)`,
);

const firstLock = await c.lock.acquire("orders/42", { ttlMs: 5_000 });
out(
  `lock orders/42 acquired with fencing token ${firstLock.token}; tryAcquire now gives ${await c
    .lock
    .tryAcquire("orders/42")}`,
);
await firstLock.unlock();
const secondLock = await c.lock.acquire("orders/42", { ttlMs: 5_000 });
out(`after unlock the next holder gets token ${secondLock.token} (strictly greater)`);
await secondLock.unlock();

const leadership = await c.election("scheduler").campaign("logic-1");
out(
  `election scheduler: leader is ${
    (await c.election("scheduler").leader())?.value
  } (token ${leadership.token})`,
);
await leadership.resign();

await using leasedIds = await uid.create({
  ...uid.defaultConfig("development"),
  service: "im-logic",
}, { coord: c });
out(`Snowflake worker id leased from coord: ${leasedIds.workerId}`);

heading("cache: strings, hashes, sorted sets, locks, getOrLoad (memory driver)");
await using kv = await cache.create({ ...cache.defaultConfig("development"), keyPrefix: "demo:" });
await kv.string.set("session:42", { user: "ann", roles: ["admin"] }, { ttlMs: 30_000 });
out(
  `string get → ${JSON.stringify(await kv.string.get("session:42"))}, ttl ≈ ${await kv.string.ttl(
    "session:42",
  )} ms`,
);
out(`a miss is ${await kv.string.get("session:43")}; incr → ${await kv.string.incr("visits")}`);
await kv.hash.hset("user:7", { name: "bo", plan: "pro" });
out(`hash getAll → ${JSON.stringify(await kv.hash.hgetAll("user:7"))}`);
await kv.zset.add("leaderboard", { member: "ann", score: 42 }, { member: "bo", score: 17 }, {
  member: "cy",
  score: 99,
});
out(
  `top 2 → ${
    (await kv.zset.revRange("leaderboard", 0, 1)).map((m) => `${m.member}:${m.score}`).join(", ")
  }`,
);
let loads = 0;
const loadProfile = async () => {
  loads++;
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { id: 7, name: "bo" };
};
await Promise.all(
  Array.from({ length: 5 }, () => kv.getOrLoad("profile:7", loadProfile, { ttlMs: 60_000 })),
);
out(`getOrLoad from 5 concurrent callers ran the loader ${loads} time(s)`);
await using job = await kv.lock.acquire("nightly-report", { ttlMs: 5_000 });
out(
  `cache lock acquired with fencing token ${job.token}; a second tryAcquire gives ${await kv.lock
    .tryAcquire("nightly-report")}`,
);

heading("db: real PostgreSQL in process (PGlite driver)");
const startedDb = performance.now();
await using database = await db.create(db.defaultConfig("development"), {
  logger: clog.create({ ...clog.defaultConfig("development"), level: "warn" }).namespace("db"),
});
out(`PGlite started in ${(performance.now() - startedDb).toFixed(0)} ms`);
const migrations = [
  {
    id: "001_users",
    sql: "create table users (id int8 primary key, name text not null, profile jsonb)",
  },
  {
    id: "002_orders",
    sql: "create table orders (id int8 primary key, user_id int8 references users, total numeric)",
  },
];
const applied = await database.migrate(migrations);
out(
  `migrations applied: ${applied.join(", ")} (running them again applies ${
    (await database.migrate(migrations)).length
  })`,
);
const userId = ids.nextId();
await database.transaction(async (tx) => {
  await tx.sql`insert into users values (${userId}, ${"ann"}, ${{ plan: "pro" }})`;
  await tx.sql`insert into orders values (${ids.nextId()}, ${userId}, ${"19.90"})`;
});
const [user] = await database.sql<{ id: bigint; name: string; profile: unknown; total: string }>`
  select u.id, u.name, u.profile, o.total from users u join orders o on o.user_id = u.id where u.id = ${userId}`;
out(
  `row: id ${user.id} (bigint), name ${user.name}, profile ${
    JSON.stringify(user.profile)
  }, total ${user.total} (exact numeric)`,
);
const declined = await database.transaction(async (tx) => {
  await tx.sql`insert into users values (${ids.nextId()}, ${"bo"}, ${null})`;
  throw new Error("payment declined");
}).catch((error: Error) => error.message);
const users = await database.sql`select 1 from users`;
out(`a failed transaction rolled back (${declined}): still ${users.length} user`);

heading("mq: topics, partitions, a consumer group, retries, trace propagation (memory driver)");
await using queue = await mq.create(mq.defaultConfig("development"), {
  logger: clog.create({ ...clog.defaultConfig("development"), level: "error" }).namespace("mq"),
});
await queue.admin.createTopic("orders", 3);
const handled: string[] = [];
let allHandled!: () => void;
const finished = new Promise<void>((resolve) => (allHandled = resolve));
const billing = await queue.consumer("billing").subscribe<{ order: number; step: string }>([
  "orders",
], (message) => {
  if (message.value.step === "refund" && message.attempt < 2) throw new Error("bank timeout"); // retried
  handled.push(
    `order ${message.value.order} ${message.value.step} (partition ${message.partition}, trace ${
      clog.traceId()?.slice(0, 8)
    })`,
  );
  if (handled.length === 5) allHandled();
});
await clog.withTrace(clog.newTraceId(), async () => {
  for (
    const [order, step] of [[1, "created"], [2, "created"], [1, "paid"], [2, "paid"], [
      1,
      "refund",
    ]] as const
  ) {
    queue.producer().send({ topic: "orders", key: `order-${order}`, value: { order, step } });
  }
  await queue.producer().flush();
});
await finished;
for (const line of handled) out(`  ${line}`);
out(
  `per-key order kept; billing owns ${
    billing.assigned().join(", ")
  }; the refund succeeded on its 2nd attempt`,
);
await billing.close();

heading("ratelimit: rules hot-reloaded from the config center (memory drivers)");
const rulesAt = coord.configKey("dev", "im-gateway", "ratelimit");
await c.config.set(rulesAt, { send: { rate: 5, burst: 3 } });
await using limiter = await ratelimit.create({
  ...ratelimit.defaultConfig("development"),
  env: "dev",
  service: "im-gateway",
}, {
  coord: c,
  logger: coordLogger,
});
const tries = async (key: string) => {
  const decisions = [];
  for (let i = 0; i < 6; i++) {
    decisions.push((await limiter.allow(key, "send")).allowed ? "✓" : "✗");
  }
  return decisions.join(" ");
};
out(`rule send = 5/s, burst 3:   6 requests → ${await tries("user:1")}`);
await c.config.set(rulesAt, { send: { rate: 5, burst: 5 } });
while (limiter.rules().send.burst !== 5) await new Promise((resolve) => setTimeout(resolve, 5));
out(`rule changed at run time to burst 5 → ${await tries("user:2")} (no restart)`);
const denied = await limiter.allow("user:2", "send");
out(`the next one waits ${denied.retryAfterMs} ms (Retry-After for the HTTP helper)`);

heading("once: a duplicate request served from the stored result (memory driver)");
await using idempotency = await once.create(once.defaultConfig("development"));
let payments = 0;
const pay = () => Promise.resolve({ payment: `pay_${++payments}`, amount: 42 });
const firstPay = await idempotency.execute("checkout:order-9", 60_000, pay);
const retried = await idempotency.execute("checkout:order-9", 60_000, pay);
out(
  `first call → ${JSON.stringify(firstPay)}; the client's retry → ${
    JSON.stringify(retried)
  }; charged ${payments} time`,
);

heading("retry: backoff with jitter, and a budget that stops retry storms");
const budget = retry.budget({ ratio: 0.2, minPerSecond: 0 }); // retries ≤ 20% of calls
for (let i = 0; i < 9; i++) budget.deposit(); // nine earlier calls that needed no retry
let attempts = 0;
const flakyInventory = () =>
  ++attempts < 3 ? Promise.reject(new Error("503 from inventory")) : Promise.resolve({ stock: 12 });
const stock = await retry.do(flakyInventory, {
  maxRetries: 4,
  backoff: retry.exponential(5, 2),
  budget,
  onRetry: ({ attempt, delayMs }) =>
    out(`  attempt ${attempt} failed; next one in ${delayMs.toFixed(1)} ms (full jitter)`),
});
out(`call 10 → ${JSON.stringify(stock)} on attempt ${attempts}`);
let downAttempts = 0;
const down = () => (downAttempts++, Promise.reject(new Error("inventory down")));
const outcome = await retry.do(down, { maxRetries: 4, backoff: retry.constant(1), budget })
  .catch((error: Error) => error.message);
out(
  `call 11, backend down → '${outcome}' after ${downAttempts} attempt: the budget (20% of 11 calls) was spent`,
);

heading(
  "breaker: a failing dependency is cut off, then probed back (policy from the config center)",
);
const breakerPolicies = coord.configKey("dev", "im-gateway", "breaker");
await c.config.set(breakerPolicies, { default: { consecutiveFailures: 3, openMs: 200 } });
using breakerLog = clog.create({ ...clog.defaultConfig("development"), level: "error" });
await using breakers = await breaker.create({
  ...breaker.defaultConfig("development"),
  env: "dev",
  service: "im-gateway",
}, {
  coord: c,
  logger: breakerLog.namespace("breaker"),
  onStateChange: ({ breaker, from, to }) => out(`  ${breaker}: ${from} → ${to}`),
});
const push = breakers.get("push-service");
let pushUp = false;
const sendPush = () => pushUp ? Promise.resolve("delivered") : Promise.reject(new Error("503"));
const results: string[] = [];
for (let i = 0; i < 5; i++) {
  results.push(
    await push.do(sendPush).catch((error: Error) =>
      error instanceof breaker.BreakerOpenError ? "rejected at once" : error.message
    ),
  );
}
out(`five calls while push-service is down: ${results.join(", ")}`);
pushUp = true;
await new Promise((resolve) => setTimeout(resolve, 200));
out(`after openMs, a probe: ${await push.do(sendPush)}; state now ${push.state}`);

heading("metrics: instruments, HTTP middleware, and /metrics for Prometheus (memory registry)");
await using registry = await metrics.create({
  ...metrics.defaultConfig("development"),
  defaultLabels: { service: "im-gateway" },
});
const delivered = registry.counter("messages_delivered_total", {
  help: "Messages delivered, by channel.",
  labels: ["channel"],
});
delivered.add(3, { channel: "push" });
delivered.inc({ channel: "sms" });
const api = registry.http((request) =>
  new Response("ok", { status: new URL(request.url).pathname === "/missing" ? 404 : 200 })
);
const info = {} as Deno.ServeHandlerInfo;
for (const path of ["/users/7", "/users/8", "/missing"]) {
  await (await api(new Request(`http://localhost${path}`), info)).body?.cancel();
}
const exposition = await registry.handler()(new Request("http://localhost/metrics")).text();
out("GET /metrics (excerpt):");
for (const line of exposition.split("\n")) {
  if (/^(messages_delivered_total|http_requests_total)\{/.test(line)) out(`  ${line}`);
}

heading("es: message search with CJK bigrams, filters and BM25 ranking (memory driver)");
interface ChatMessage extends Record<string, unknown> {
  content: string;
  room: string;
  sentAt: string;
}
await using searchProvider = await es.create();
const chat = await searchProvider.index<ChatMessage>("messages", {
  content: "text",
  room: "keyword",
  sentAt: "date",
});
await chat.bulk([
  ["m1", "明天一起吃饭吧", "family", "2026-11-20T12:00:00Z"],
  ["m2", "Lunch tomorrow? 吃饭 at noon", "work", "2026-11-21T09:30:00Z"],
  ["m3", "今天的饭菜很好吃，明天还去吃饭", "family", "2026-11-21T19:00:00Z"],
  ["m4", "The deploy finished", "work", "2026-11-22T08:00:00Z"],
].map(([id, content, room, sentAt]) => ({ op: "index", id, doc: { content, room, sentAt } })));
const shown = (result: es.SearchResult<ChatMessage>) =>
  result.hits.map((hit) => `${hit.id} (${hit.score.toFixed(2)})`).join(", ") || "none";
out(`"吃饭", all rooms:        ${shown(await chat.search({ text: "吃饭" }))}`);
out(
  `"吃饭" in room family:    ${
    shown(await chat.search({ text: "吃饭", filter: { room: "family" } }))
  }`,
);
out(
  `since Nov 21, newest first: ${
    (await chat.search({
      range: { sentAt: { gte: "2026-11-21T00:00:00Z" } },
      sort: [{ field: "sentAt", order: "desc" }],
    })).hits.map((hit) => hit.id).join(", ")
  }`,
);

clog.close();
out("\nDemo finished: every component ran on its memory driver, no service was used.");
