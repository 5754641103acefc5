/** The memory driver keeps a primitive it decoded; objects are decoded for each caller. */
import assert from "node:assert/strict";
import * as cache from "./mod.ts";

Deno.test("memory cache: a kept decoded string follows every write; an object is never shared between callers", async () => {
  await using c = await cache.create(cache.defaultConfig("development"));
  await c.string.set("greeting", "hello");
  assert.equal(await c.string.get("greeting"), "hello");
  assert.equal(await c.string.get("greeting"), "hello");
  await c.string.set("greeting", "bye");
  assert.equal(await c.string.get("greeting"), "bye", "a write replaces what was kept");
  await c.string.set("n", 41);
  assert.equal(await c.string.incr("n"), 42);
  assert.equal(await c.string.get("n"), 42, "an increment too");
  await c.string.set("profile", { roles: ["admin"] });
  const first = await c.string.get<{ roles: string[] }>("profile");
  first!.roles.push("hacked");
  assert.deepEqual(await c.string.get("profile"), { roles: ["admin"] });
});

Deno.test("memory cache: two providers on one store with different serializers each decode their own way", async () => {
  const store = new cache.MemoryCacheStore();
  await using json = await cache.create(cache.defaultConfig("development"), {
    driver: cache.memoryCache({ store }),
  });
  await using upper = await cache.create(cache.defaultConfig("development"), {
    driver: cache.memoryCache({ store }),
    serializer: {
      encode: (value) => JSON.stringify(value),
      decode: (text) => String(JSON.parse(text)).toUpperCase(),
    },
  });
  await json.string.set("word", "quiet");
  assert.equal(await json.string.get("word"), "quiet");
  assert.equal(await upper.string.get("word"), "QUIET");
  assert.equal(await json.string.get("word"), "quiet");
});
