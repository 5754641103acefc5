import assert from "node:assert/strict";
import { mqConformance } from "../mq/conformance.ts";
import * as db from "../db/mod.ts";
import * as mq from "../mq/mod.ts";
import { pgliteDb } from "./pglite.ts";
import { postgresDb } from "./postgres/mod.ts";
import { serviceUrl } from "../testing/services.ts";
import { freePort } from "../testing/server.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import { quietLogger } from "../testing/logger.ts";
import { natsMq, type NatsMqDriver } from "./nats/mod.ts";

const url = serviceUrl("nats");
const options = { sessionTimeoutMs: 1500, heartbeatMs: 300 };

mqConformance({
  name: "nats",
  makeDriver: () => natsMq({ servers: url ?? "", ...options }),
  crash: (driver) => (driver as NatsMqDriver).crash(),
  failoverMs: 2000,
  // The outbox on the real PostgreSQL when CI gives one, else on PGlite.
  makeDatabase: () => {
    const postgresUrl = serviceUrl("postgres");
    return postgresUrl
      ? db.create({ ...db.defaultConfig("development"), url: postgresUrl }, {
        driver: postgresDb(),
      })
      : db.create(db.defaultConfig("development"), { driver: pgliteDb() });
  },
  ignore: url === undefined,
});

Deno.test("natsMq() rejects bad options with the field, the value and what is allowed", () => {
  assert.throws(() => natsMq({ servers: [] }), /'servers' must name at least one server/);
  assert.throws(() => natsMq({ servers: " , " }), /'servers' must name at least one server/);
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", url: "x" } as never),
    (error: Error) => error instanceof TypeError && /'url' is not an option/.test(error.message),
  );
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", user: "u" }),
    /'user' and 'pass' go together/,
  );
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", token: "t", user: "u", pass: "p" }),
    /'token' excludes 'user' and 'pass'/,
  );
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", sessionTimeoutMs: 0 }),
    (error: Error) =>
      error instanceof RangeError &&
      /'sessionTimeoutMs' must be a positive integer: current value is 0/.test(error.message),
  );
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", heartbeatMs: 1.5 }),
    /'heartbeatMs' must be a positive integer/,
  );
  assert.throws(
    () => natsMq({ servers: "nats://h:4222", heartbeatMs: 5000 }),
    /'heartbeatMs' must be less than 'sessionTimeoutMs' \(3000\): current value is 5000/,
  );
  natsMq({ servers: ["nats://h:4222", "h2:4222"], token: "t" }); // valid: nothing connects yet
});

Deno.test("natsMq: create() fails with a DriverError without the credentials when no server answers", async () => {
  const port = await freePort(); // nothing listens there
  await assert.rejects(
    mq.create(mq.defaultConfig("production"), {
      driver: natsMq({
        servers: `nats://127.0.0.1:${port}`,
        user: "me",
        pass: "s3cret-pw",
        timeoutMs: 1000,
      }),
    }),
    (error: Error) =>
      error instanceof mq.DriverError && error.driver === "nats" &&
      !JSON.stringify({ m: error.message, c: String(error.cause) }).includes("s3cret-pw"),
  );
});

const worker = new URL("./nats/testdata/mq_worker.ts", import.meta.url).pathname;

Deno.test({
  name:
    "[nats] mq: 300 messages, one consumer process killed mid-run — every message handled, none lost",
  ignore: url === undefined,
  async fn() {
    const topic = testKeyspace("nats killed").replace(/[^a-zA-Z0-9._-]+/g, ".").replace(/\.+$/, "");
    await using queue = await mq.create(mq.defaultConfig("development"), {
      driver: natsMq({ servers: url!, ...options }),
      logger: quietLogger(),
    });
    await queue.admin.createTopic(topic, 4);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", worker, url!, topic],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    const doneByWorker = () => new Set([...output.matchAll(/^done (\d+)$/gm)].map((m) => +m[1]));
    while (!output.includes("holding")) output += (await reader.read()).value ?? "";
    const seen = new Set<number>();
    await using _subscription = await queue.consumer("workers").subscribe<number>(
      [topic],
      (message) => void seen.add(message.value),
    );
    for (let i = 0; i < 300; i++) {
      await queue.producer().sendSync({ topic, key: `user-${i % 16}`, value: i });
    }
    // Kill the worker once it has finished some messages, with more of its share still to come.
    while (doneByWorker().size < 20) output += (await reader.read()).value ?? "";
    Deno.kill(child.pid, "SIGKILL");
    await child.status;
    // Everything it printed before dying: each "done" line is a message it acknowledged.
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      output += chunk.value;
    }
    const acknowledged = doneByWorker();
    assert.ok(acknowledged.size < 300, `the worker was killed mid-run (${acknowledged.size} done)`);
    await eventually(() => {
      const missing = Array.from({ length: 300 }, (_, i) => i).filter((i) =>
        !seen.has(i) && !acknowledged.has(i)
      );
      assert.deepEqual(missing, []);
    }, { timeoutMs: 20_000 });
  },
});
