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
