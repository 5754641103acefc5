/**
 * coord on the memory driver: the hot paths of standalone mode.
 *
 * Run: deno bench --allow-all coord/coord_bench.ts
 */
import { quietLogger } from "../testing/logger.ts";
import * as coord from "./mod.ts";

const logger = quietLogger();
const provider = await coord.create(coord.defaultConfig("development"), { logger });
await provider.config.set("/config/bench/app/limits", { rate: 100, burst: 10 });
const manager = await provider.config.manager("/config/bench/app/limits", {
  default: { rate: 1, burst: 1 },
});

Deno.bench("memory: lock acquire + unlock (uncontended)", { group: "memory lock" }, async () => {
  const lock = await provider.lock.acquire("bench");
  await lock.unlock();
});

Deno.bench("memory: config.get (JSON decode)", { group: "memory config" }, async () => {
  await provider.config.get("/config/bench/app/limits");
});

Deno.bench("memory: manager.current (hot-reloaded snapshot)", { group: "memory config" }, () => {
  if (manager.current.rate !== 100) throw new Error("unexpected value");
});

globalThis.addEventListener("unload", () => {
  manager.close();
  provider.close();
});
