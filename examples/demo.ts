/**
 * A tour of every component built so far, on memory drivers: no service needed.
 *
 * Run: deno task demo
 */
import { clog, uid } from "../mod.ts";

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

clog.close();
out("\nDemo finished: every component ran on its memory driver, no service was used.");
