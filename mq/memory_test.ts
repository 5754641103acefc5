import assert from "node:assert/strict";
import { mqConformance } from "./conformance.ts";
import * as db from "../db/mod.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import * as mq from "./mod.ts";
import type { MemoryMqDriver } from "./driver.ts";

const database = pgliteDb();

const broker = new mq.MemoryMqBroker();
mqConformance({
  name: "memory",
  makeDriver: () => mq.memoryMq({ broker }),
  crash: (driver) => (driver as MemoryMqDriver).crash(),
  failoverMs: 0,
  makeDatabase: () => db.create(db.defaultConfig("development"), { driver: database }),
});

Deno.test("[memory] mq: a tight loop of sendSync lets timers run (and so SIGTERM handlers)", async () => {
  await using queue = await mq.create({ ...mq.defaultConfig("development"), lingerMs: 0 });
  let stop = false;
  const timer = setTimeout(() => (stop = true), 30);
  let sent = 0;
  // Bounded, so a starved timer fails the test instead of hanging it.
  while (!stop && sent < 2_000_000) {
    await queue.producer().sendSync({ topic: "busy", value: sent });
    sent++;
  }
  clearTimeout(timer);
  assert.ok(stop, `the 30 ms timer fired during the loop (after ${sent} sends)`);
});
