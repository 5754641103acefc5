/**
 * The etcd driver beside the raw etcd3 client, against the same etcd, in one run.
 * The kit should add at most 10% to a get and to a lock round trip.
 *
 * Run: KIT_ETCD_ENDPOINTS=http://127.0.0.1:2379 deno bench --allow-all bench/etcd_bench.ts
 */
import { Etcd3 } from "etcd3";
import { quietLogger } from "../testing/logger.ts";
import * as coord from "../coord/mod.ts";
import { etcdCoord } from "../drivers/etcd.ts";

const endpoints = Deno.env.get("KIT_ETCD_ENDPOINTS");
const ignore = endpoints === undefined;
const hosts = (endpoints ?? "http://127.0.0.1:2379").split(",");

const raw = ignore ? undefined : new Etcd3({ hosts });
const logger = quietLogger();
const kit = ignore ? undefined : await coord.create(coord.defaultConfig("production"), {
  driver: etcdCoord({ endpoints: hosts }),
  logger,
});
const key = "/config/bench/etcd/value";
await kit?.config.set(key, { rate: 100, burst: 10 });

Deno.bench(
  "raw etcd3: get + JSON.parse",
  { group: "etcd get", baseline: true, ignore },
  async () => {
    JSON.parse(await raw!.get(key).string() ?? "null");
  },
);
Deno.bench("kit etcd driver: config.get", { group: "etcd get", ignore }, async () => {
  await kit!.config.get(key);
});

Deno.bench(
  "raw etcd3: lock acquire + release",
  { group: "etcd lock", baseline: true, ignore },
  async () => {
    const lock = raw!.lock("bench-raw-lock").ttl(10);
    await lock.acquire();
    await lock.release();
  },
);
Deno.bench("kit etcd driver: lock acquire + unlock", { group: "etcd lock", ignore }, async () => {
  const lock = await kit!.lock.acquire("bench-kit-lock");
  await lock.unlock();
});

globalThis.addEventListener("unload", () => {
  kit?.close();
  raw?.close();
});
