import assert from "node:assert/strict";
import * as clog from "../clog/mod.ts";
import { quietLogger } from "../testing/logger.ts";
import * as db from "../db/mod.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import { eventually } from "../testing/eventually.ts";
import * as mq from "./mod.ts";

Deno.test("outbox: each committed event is published once, none from a rolled-back transaction", async () => {
  await using database = await db.create(db.defaultConfig("development"), {
    driver: pgliteDb(),
    logger: quietLogger(),
  });
  await using queue = await mq.create(mq.defaultConfig("development"), { logger: quietLogger() });
  const box = mq.outbox(database, queue.producer());
  await database.migrate([box.migration, {
    id: "orders",
    sql: "create table orders (id int4 primary key)",
  }]);
  const seen: { id: number; traceId: string | undefined }[] = [];
  await using _subscription = await queue.consumer("billing").subscribe<{ id: number }>(
    ["orders"],
    (m) => {
      seen.push({ id: m.value.id, traceId: clog.traceId() });
    },
  );

  const traceId = clog.newTraceId();
  await clog.withTrace(traceId, () =>
    database.transaction(async (tx) => {
      await tx.sql`insert into orders values (1)`;
      await box.add(tx, { topic: "orders", key: "1", value: { id: 1 } });
    }));
  await assert.rejects(
    database.transaction(async (tx) => {
      await tx.sql`insert into orders values (2)`;
      await box.add(tx, { topic: "orders", key: "2", value: { id: 2 } });
      throw new Error("payment declined");
    }),
    /payment declined/,
  );

  assert.equal(await box.relayOnce(), 1);
  assert.equal(await box.relayOnce(), 0, "marked sent, not published twice");
  await eventually(() => assert.deepEqual(seen, [{ id: 1, traceId }]));
  const pending = await database.sql`select 1 from kit_outbox where sent_at is null`;
  assert.equal(pending.length, 0);
});

Deno.test("outbox: an interrupted publication is published again (at least once)", async () => {
  await using database = await db.create(db.defaultConfig("development"), {
    driver: pgliteDb(),
    logger: quietLogger(),
  });
  const broker = new mq.MemoryMqBroker();
  const flaky = mq.memoryMq({ broker });
  let failNext = true;
  const produce = flaky.produce.bind(flaky);
  flaky.produce = (records) => {
    if (failNext) {
      failNext = false;
      return Promise.reject(
        new mq.DriverError("memory", "produce", new Error("broker unreachable")),
      );
    }
    return produce(records);
  };
  await using queue = await mq.create(mq.defaultConfig("development"), {
    driver: flaky,
    logger: quietLogger(),
  });
  await queue.admin.createTopic("events", 1);
  const box = mq.outbox(database, queue.producer(), { pollIntervalMs: 10, logger: quietLogger() });
  await database.migrate([box.migration]);
  await database.transaction((tx) => box.add(tx, { topic: "events", value: "hello" }));
  await assert.rejects(box.relayOnce(), /broker unreachable/);
  assert.equal(
    (await database.sql`select 1 from kit_outbox where sent_at is null`).length,
    1,
    "still pending",
  );
  const seen: string[] = [];
  await using _subscription = await queue.consumer("g").subscribe<string>(
    ["events"],
    (m) => void seen.push(m.value),
  );
  box.start();
  await eventually(() => assert.deepEqual(seen, ["hello"]));
  await box.stop();
});

Deno.test("outbox: a bytes value is refused with the reason, not stored as a JSON object of its bytes", async () => {
  await using database = await db.create(db.defaultConfig("development"), {
    driver: pgliteDb(),
    logger: quietLogger(),
  });
  await using queue = await mq.create(mq.defaultConfig("development"), { logger: quietLogger() });
  const box = mq.outbox(database, queue.producer());
  await database.migrate([box.migration]);
  await assert.rejects(
    database.transaction((tx) => box.add(tx, { topic: "raw", value: new Uint8Array([1, 2]) })),
    /the value for topic 'raw' is bytes: the outbox keeps JSON values/,
  );
});
