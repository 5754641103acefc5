import assert from "node:assert/strict";
import { mqConformance } from "../mq/conformance.ts";
import * as mq from "../mq/mod.ts";
import { serializeError } from "../clog/mod.ts";
import { freePort } from "../testing/server.ts";
import { kafkaMockAvailable, startKafkaMock } from "../testing/kafka_mock.ts";
import { serviceUrl } from "../testing/services.ts";
import { Kafka, logLevel } from "kafkajs";
import { kafkaMq } from "./kafka.ts";

const brokers = serviceUrl("kafka");

// Against a real broker when KIT_KAFKA_BROKERS names one (compose.yaml brings Kafka up). With
// KIT_KAFKA_MOCK=1 (CI sets it), against librdkafka's mock cluster (testing/kafka_mock.ts, a
// Kafka-protocol broker no one here wrote): it has no CreateTopics API (the suite's topics are
// made through its control channel) and reports a controller that does not exist, so the
// idempotent producer (whose InitProducerId goes to the controller) is off there. A crashed
// member is found by the session timeout.
const mock = brokers === undefined && Deno.env.get("KIT_KAFKA_MOCK") === "1" &&
    await kafkaMockAvailable()
  ? await startKafkaMock()
  : undefined;
const driverOptions = mock
  ? { brokers: mock.brokers, idempotent: false, sessionTimeoutMs: 6000 }
  : { brokers: brokers ?? "127.0.0.1:9092" };
mqConformance({
  name: mock ? "kafka-mock" : "kafka",
  makeDriver: () => kafkaMq(driverOptions),
  processDriver: {
    module: new URL("./kafka.ts", import.meta.url),
    factory: "kafkaMq",
    options: driverOptions,
  },
  prepareTopic: mock ? (topic, partitions) => mock.createTopic(topic, partitions) : undefined,
  failoverMs: mock ? 10_000 : 30_000,
  ignore: brokers === undefined && mock === undefined,
});

Deno.test("kafkaMq() rejects missing brokers, and create() fails with a DriverError when none answers", async () => {
  assert.throws(() => kafkaMq({ brokers: [] }), /'brokers' must name at least one host:port/);
  assert.throws(
    () => kafkaMq({ brokers: ["127.0.0.1:1"], acks: 1 }),
    /an idempotent producer needs 'acks' -1 .* current value is 1/,
  );
  kafkaMq({ brokers: ["127.0.0.1:1"], acks: 1, idempotent: false }); // allowed without idempotence
  assert.throws(
    () => kafkaMq({ brokers: ["127.0.0.1:1"], concurrency: 0 }),
    /'concurrency' must be a positive integer/,
  );
  assert.throws(
    () => kafkaMq({ brokers: ["127.0.0.1:1"], sessionTimeoutMs: -5 }),
    /'sessionTimeoutMs' must be a positive integer/,
  );
  const port = await freePort(); // nothing listens there
  await assert.rejects(
    mq.create(mq.defaultConfig("production"), {
      driver: kafkaMq({ brokers: [`127.0.0.1:${port}`], timeoutMs: 1000 }),
    }),
    (error: Error) =>
      error instanceof mq.DriverError && error.driver === "kafka" && error.operation === "connect",
  );
});

Deno.test("kafkaMq({ client }) connects through an application's own kafkajs client, and refuses anything else", async () => {
  const port = await freePort(); // nothing listens there
  const client = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    connectionTimeout: 500,
    requestTimeout: 500,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  // The driver reaches the brokers through the given client: its (dead) broker list is the one used.
  await assert.rejects(
    mq.create(mq.defaultConfig("production"), { driver: kafkaMq({ client }) }),
    (error: Error) =>
      error instanceof mq.DriverError && error.driver === "kafka" &&
      error.operation === "connect" &&
      String((error.cause as Error)?.message ?? error.cause).length > 0,
  );
  assert.throws(() => kafkaMq({ client: {} as never }), /'client' must be a kafkajs Kafka client/);
});

Deno.test("kafkaMq: a failure's DriverError holds no SASL password, whatever kafkajs put on its error", async () => {
  const password = "kafka-s3cret";
  const sasl = { mechanism: "plain", username: "app", password };
  // kafkajs errors carry extra fields (broker, request, originalError …); one holding the
  // connection's config must not reach the caller.
  const failing = {
    producer: () => ({}),
    consumer: () => ({}),
    admin: () => ({
      connect: () =>
        Promise.reject(
          Object.assign(
            new Error("SASL PLAIN authentication failed", {
              cause: Object.assign(new Error("Connection error"), { request: { sasl } }),
            }),
            { name: "KafkaJSSASLAuthenticationError", broker: "127.0.0.1:9092", sasl },
          ),
        ),
      disconnect: () => Promise.resolve(),
    }),
  };
  const error = await mq.create(mq.defaultConfig("production"), {
    driver: kafkaMq({ client: failing }),
  }).then(() => undefined, (error) => error);
  assert.ok(error instanceof mq.DriverError, String(error));
  assert.equal(error.operation, "connect");
  assert.match(error.message, /SASL PLAIN authentication failed/);
  const shown = `${error}\n${error.stack}\n${JSON.stringify(serializeError(error))}`;
  assert.ok(!shown.includes(password), shown);
});
