/**
 * The memory cache beside lru-cache: `await get` of a hit and `set`, both with
 * the same bound. The kit's side includes its key prefixing, validation and
 * JSON serialization, and the await; lru-cache stores the object as is.
 *
 * Run: deno bench --allow-all cache/cache_bench.ts
 */
import { LRUCache } from "lru-cache";
import * as cache from "./mod.ts";

const entries = 10_000;
const kit = await cache.create(cache.defaultConfig("development"), {
  driver: cache.memoryCache({ maxEntries: entries }),
});
const lru = new LRUCache<string, string>({ max: entries });
const value = "user-profile-42";
for (let i = 0; i < entries; i++) {
  await kit.string.set(`k${i}`, value);
  lru.set(`k${i}`, value);
}
let i = 0;

Deno.bench("kit memory: await string.get (hit)", { group: "get hit", baseline: true }, async () => {
  await kit.string.get(`k${i++ % entries}`);
});
Deno.bench("lru-cache: get (hit)", { group: "get hit" }, () => {
  lru.get(`k${i++ % entries}`);
});

Deno.bench("lru-cache: await Promise.resolve(get) (the floor of any async API)", {
  group: "get hit",
}, async () => {
  await Promise.resolve(lru.get(`k${i++ % entries}`));
});

Deno.bench("kit memory: await string.set", { group: "set", baseline: true }, async () => {
  await kit.string.set(`k${i++ % entries}`, value);
});
Deno.bench("lru-cache: set", { group: "set" }, () => {
  lru.set(`k${i++ % entries}`, value);
});

Deno.bench(
  "lru-cache: await Promise.resolve(set) (the floor of any async API)",
  { group: "set" },
  async () => {
    await Promise.resolve(lru.set(`k${i++ % entries}`, value));
  },
);

globalThis.addEventListener("unload", () => kit.close());
