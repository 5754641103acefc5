/**
 * The memory cache beside lru-cache: `await get` of a hit (a string value, which the kit decodes
 * once and keeps, and an object value, which it decodes on every get) and `await set`, both with
 * the same bound. The kit's side includes its key prefixing, validation
 * and JSON serialization, and the await; lru-cache stores the object as is.
 *
 * Each iteration runs 1,000 operations in a loop, so the harness's own cost of
 * calling and awaiting an async bench function (about 300 ns on Deno 2.9, more
 * than the operations measured) is spread over them: divide by 1,000 for one.
 * The `await lru-cache` rows are the floor of any promise API over lru-cache,
 * and `await Map.get` the floor of any promise API over a hash map.
 *
 * Run: deno bench --allow-all bench/cache_bench.ts
 */
import { LRUCache } from "lru-cache";
import * as cache from "../cache/mod.ts";

const entries = 10_000;
const batch = 1_000;
const kit = await cache.create(cache.defaultConfig("development"), {
  driver: cache.memoryCache({ maxEntries: entries }),
});
const lru = new LRUCache<string, string>({ max: entries });
const value = "user-profile-42";
const keys = Array.from({ length: entries }, (_, i) => `k${i}`);
for (const key of keys) {
  await kit.string.set(key, value);
  lru.set(key, value);
}
const map = new Map(keys.map((key) => [key, value]));
let i = 0;

Deno.bench("kit memory: 1,000 × await string.get (hit)", {
  group: "get hit",
  baseline: true,
}, async () => {
  for (let n = 0; n < batch; n++) await kit.string.get(keys[i++ % entries]);
});
Deno.bench("lru-cache: 1,000 × get (hit)", { group: "get hit" }, () => {
  for (let n = 0; n < batch; n++) lru.get(keys[i++ % entries]);
});
Deno.bench("lru-cache: 1,000 × await get (hit)", { group: "get hit" }, async () => {
  for (let n = 0; n < batch; n++) await lru.get(keys[i++ % entries]);
});
// No LRU, no TTL, no decoding: what one await adds to a bare hash lookup.
Deno.bench("floor: 1,000 × await Map.get (hit)", { group: "get hit" }, async () => {
  for (let n = 0; n < batch; n++) await map.get(keys[i++ % entries]);
});

// Keys longer than 12 characters (as most real ones): the kit checks them with two built-ins
// instead of its inlined loop for short keys, about 15 ns more per get.
const longKeys = keys.map((key) => `session:${key.padStart(8, "0")}:profile`);
const longKit = await cache.create(cache.defaultConfig("development"), {
  driver: cache.memoryCache({ maxEntries: entries }),
});
const longLru = new LRUCache<string, string>({ max: entries });
for (const key of longKeys) {
  await longKit.string.set(key, value);
  longLru.set(key, value);
}
Deno.bench("kit memory: 1,000 × await string.get (hit, 24-character keys)", {
  group: "get hit, long keys",
  baseline: true,
}, async () => {
  for (let n = 0; n < batch; n++) await longKit.string.get(longKeys[i++ % entries]);
});
Deno.bench("lru-cache: 1,000 × await get (hit, 24-character keys)", {
  group: "get hit, long keys",
}, async () => {
  for (let n = 0; n < batch; n++) await longLru.get(longKeys[i++ % entries]);
});

// An object value: the kit decodes it on every get (JSON.parse), so callers never share one
// mutable object; lru-cache hands out the object it holds.
const profile = { id: 42, name: "ann", roles: ["admin", "ops"], active: true };
await kit.string.set("profile", profile);
lru.set("profile", JSON.stringify(profile));
const objects = new LRUCache<string, typeof profile>({ max: 10 });
objects.set("profile", profile);
Deno.bench("kit memory: 1,000 × await string.get of an object (decoded each time)", {
  group: "get object",
  baseline: true,
}, async () => {
  for (let n = 0; n < batch; n++) await kit.string.get("profile");
});
Deno.bench("lru-cache: 1,000 × await get of an object (the same reference)", {
  group: "get object",
}, async () => {
  for (let n = 0; n < batch; n++) await objects.get("profile");
});

Deno.bench("kit memory: 1,000 × await string.set", {
  group: "set",
  baseline: true,
}, async () => {
  for (let n = 0; n < batch; n++) await kit.string.set(keys[i++ % entries], value);
});
Deno.bench("lru-cache: 1,000 × set", { group: "set" }, () => {
  for (let n = 0; n < batch; n++) lru.set(keys[i++ % entries], value);
});
Deno.bench("lru-cache: 1,000 × await set", { group: "set" }, async () => {
  for (let n = 0; n < batch; n++) await lru.set(keys[i++ % entries], value);
});

globalThis.addEventListener("unload", () => {
  kit.close();
  longKit.close();
});
