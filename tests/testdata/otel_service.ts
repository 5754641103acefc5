/**
 * One service of the tracing end-to-end test, run with Deno's built-in OpenTelemetry SDK
 * (`OTEL_DENO=true`): `api` serves `POST /rooms/:id/messages` (Hono, the kit's trace middleware)
 * which writes to PostgreSQL, caches in Redis and publishes to mq on Redis Streams, then answers
 * and exits; `consumer` handles one message and exits. Both log through `otelLogSink`. Args:
 * `<role> <topic> <table>`; env: KIT_REDIS_URL, KIT_POSTGRES_URL. Prints `listening <port>` /
 * `ready`, and `done` before it exits.
 */
import { Hono } from "hono";
import * as cache from "../../cache/mod.ts";
import * as clog from "../../clog/mod.ts";
import * as db from "../../db/mod.ts";
import * as mq from "../../mq/mod.ts";
import { honoMiddleware, traceMiddleware } from "../../http/mod.ts";
import { otelLogSink } from "../../drivers/otel.ts";
import { postgresDb } from "../../drivers/postgres/mod.ts";
import { redisCache, redisMq } from "../../drivers/redis/mod.ts";

const [role, topic, table] = Deno.args;
const redis = { url: Deno.env.get("KIT_REDIS_URL")! };
clog.init({ level: "info", format: "json", output: "stdout" }, { sinks: [otelLogSink()] });
const log = clog.namespace(role);
const queue = await mq.create(mq.defaultConfig("development"), {
  driver: redisMq({ ...redis, sessionTimeoutMs: 1500, heartbeatMs: 300 }),
});
const finished = Promise.withResolvers<void>();
// Not console.log: under OTEL_DENO_CONSOLE=replace the console goes to OpenTelemetry only.
const say = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(`${line}\n`));

if (role === "consumer") {
  const subscription = await queue.consumer("e2e").subscribe<{ text: string }>(
    [topic],
    (message) => {
      log.info("message handled", { text: message.value.text });
      finished.resolve();
    },
  );
  while (subscription.assigned().length === 0) await new Promise((r) => setTimeout(r, 50));
  say("ready");
  await finished.promise;
} else {
  const database = await db.create(
    { ...db.defaultConfig("development"), url: Deno.env.get("KIT_POSTGRES_URL")! },
    { driver: postgresDb() },
  );
  const messages = db.identifier(table);
  await database.sql`CREATE TABLE IF NOT EXISTS ${messages} (id int PRIMARY KEY, text text)`;
  const store = await cache.create(
    { ...cache.defaultConfig("development"), keyPrefix: `${table}:` },
    { driver: redisCache(redis) },
  );
  const app = new Hono();
  app.use(honoMiddleware(traceMiddleware()));
  app.post("/rooms/:id/messages", async (c) => {
    const { text } = await c.req.json();
    const id = Number(c.req.param("id"));
    await database.sql`INSERT INTO ${messages} (id, text) VALUES (${id}, ${text})`;
    await store.string.set(`room:${id}:last`, text, { ttlMs: 60_000 });
    await queue.producer().sendSync({ topic, key: String(id), value: { text } });
    log.info("message stored", { room: id });
    finished.resolve();
    return c.json({ stored: true }, 201);
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, app.fetch);
  say(`listening ${server.addr.port}`);
  await finished.promise;
  await new Promise((resolve) => setTimeout(resolve, 50)); // the response leaves
  await server.shutdown();
  await database.sql`DROP TABLE ${messages}`;
  await store.close();
  await database.close();
}
await queue.close();
say("done");
