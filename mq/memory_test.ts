import { mqConformance } from "./conformance.ts";
import * as mq from "./mod.ts";

const broker = new mq.MemoryMqBroker();
mqConformance({
  name: "memory",
  makeDriver: () => mq.memoryMq({ broker }),
  crash: (driver) => (driver as mq.MemoryMqDriver).crash(),
  failoverMs: 0,
});
