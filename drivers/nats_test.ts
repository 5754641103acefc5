import assert from "node:assert/strict";
import { outboxDatabase } from "./testdata/outbox_database.ts";
import { mqConformance } from "../mq/conformance.ts";
import * as mq from "../mq/mod.ts";
import { serviceUrl } from "../testing/services.ts";
import { freePort } from "../testing/server.ts";
import { natsMq, type NatsMqDriver } from "./nats/mod.ts";

const url = serviceUrl("nats");
const options = { sessionTimeoutMs: 1500, heartbeatMs: 300 };

mqConformance({
  name: "nats",
  makeDriver: () => natsMq({ servers: url ?? "", ...options }),
  crash: (driver) => (driver as NatsMqDriver).crash(),
  processDriver: {
    module: new URL("./nats/mod.ts", import.meta.url),
    factory: "natsMq",
    options: { servers: url ?? "", ...options },
  },
  failoverMs: 2000,
  // The outbox on the real PostgreSQL when CI gives one, else on PGlite.
  makeDatabase: outboxDatabase,
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
