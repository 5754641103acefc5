import assert from "node:assert/strict";
import { mqConformance } from "../mq/conformance.ts";
import * as mq from "../mq/mod.ts";
import { freePort } from "../testing/server.ts";
import { serviceUrl } from "../testing/services.ts";
import { kafkaMq } from "./kafka.ts";

const brokers = serviceUrl("kafka");

// Runs against a real broker only (KIT_KAFKA_BROKERS, e.g. from compose.yaml): none can be
// installed on the CI machine. A crashed member is detected by the broker's session timeout.
mqConformance({
  name: "kafka",
  makeDriver: () => kafkaMq({ brokers: brokers ?? "127.0.0.1:9092" }),
  failoverMs: 30_000,
  ignore: brokers === undefined,
});

Deno.test("kafkaMq() rejects missing brokers, and create() fails with a DriverError when none answers", async () => {
  assert.throws(() => kafkaMq({ brokers: [] }), /'brokers' must name at least one host:port/);
  const port = await freePort(); // nothing listens there
  await assert.rejects(
    mq.create(mq.defaultConfig("production"), {
      driver: kafkaMq({ brokers: [`127.0.0.1:${port}`], timeoutMs: 1000 }),
    }),
    (error: Error) =>
      error instanceof mq.DriverError && error.driver === "kafka" && error.operation === "connect",
  );
});
