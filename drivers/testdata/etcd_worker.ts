/**
 * A second process for the etcd tests.
 *
 * - `count <endpoints> <lockKey> <counterKey> <n>`: n read-modify-write increments under the lock.
 * - `hold <endpoints> <lockKey> <service> <idService>`: takes the lock, registers an instance and
 *   leases an instance id, prints "ready" and waits to be killed.
 */
import * as clog from "../../clog/mod.ts";
import * as coord from "../../coord/mod.ts";
import { etcdCoord } from "../etcd.ts";

const [mode, endpoints, ...rest] = Deno.args;
const logger = clog.create({ level: "error", format: "json", output: "stderr" });
const provider = await coord.create(
  { ...coord.defaultConfig("production"), leaseTtlMs: 2000, lockTtlMs: 2000 },
  { driver: etcdCoord({ endpoints }), logger },
);

if (mode === "count") {
  const [lockKey, counterKey, n] = rest;
  for (let i = 0; i < Number(n); i++) {
    await using _lock = await provider.lock.acquire(lockKey);
    const value = await provider.config.get<number>(counterKey);
    await provider.config.set(counterKey, (value ?? 0) + 1);
  }
  await provider.close();
} else if (mode === "hold") {
  const [lockKey, service, idService] = rest;
  const lock = await provider.lock.acquire(lockKey);
  await provider.registry.register({ id: "worker", name: service, address: "127.0.0.1", port: 1 });
  const id = await provider.instanceIds.allocate(idService, 4);
  console.log(JSON.stringify({ ready: true, token: lock.token, id: id.id }));
  await new Promise(() => {}); // until killed
} else {
  throw new Error(`unknown mode ${mode}`);
}
