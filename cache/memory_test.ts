import assert from "node:assert/strict";
import { cacheConformance } from "./conformance.ts";
import { keyspace } from "./_util.ts";
import * as cache from "./mod.ts";

const store = new cache.MemoryCacheStore();
cacheConformance({ name: "memory", makeDriver: () => cache.memoryCache({ store }) });

Deno.test("memory cache is bounded by entries, evicting the least recently used", async () => {
  await using c = await cache.create(cache.defaultConfig("development"), {
    driver: cache.memoryCache({ maxEntries: 3 }),
  });
  await c.string.set("a", 1);
  await c.string.set("b", 2);
  await c.string.set("c", 3);
  await c.string.get("a"); // a is now the most recently used
  await c.string.set("d", 4);
  assert.deepEqual(await c.string.mget(["a", "b", "c", "d"]), [1, undefined, 3, 4]);
});

Deno.test("memory cache is bounded by approximate bytes", async () => {
  const driver = cache.memoryCache({ maxBytes: 10_000 });
  await using c = await cache.create(cache.defaultConfig("development"), { driver });
  for (let i = 0; i < 100; i++) await c.string.set(`k${i}`, "x".repeat(500));
  assert.ok(driver.store.bytes <= 10_000, `${driver.store.bytes} bytes`);
  assert.ok(driver.store.size < 100 && driver.store.size > 0);
  assert.equal(await c.string.get("k99"), "x".repeat(500), "the newest stays");
  assert.equal(await c.string.get("k0"), undefined, "the oldest went");
});

Deno.test("the sweep drops expired entries nobody reads, and close() leaves no timer", async () => {
  const driver = cache.memoryCache({ sweepIntervalMs: 20 });
  const c = await cache.create(cache.defaultConfig("development"), { driver });
  for (let i = 0; i < 50; i++) await c.string.set(`k${i}`, i, { ttlMs: 10 });
  assert.equal(driver.store.size, 50);
  const deadline = Date.now() + 2000;
  while (driver.store.size > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(driver.store.size, 0);
  await c.string.set("later", 1, { ttlMs: 60_000 });
  await c.close(); // the test's sanitizer fails if the sweep timer outlived close()
});

Deno.test("bad memory cache bounds are rejected", () => {
  assert.throws(
    () => cache.memoryCache({ maxEntries: 0 }),
    /'maxEntries' must be a positive integer: current value is 0/,
  );
  // A longer interval would overflow setInterval, which would then sweep every millisecond.
  assert.throws(
    () => cache.memoryCache({ sweepIntervalMs: 2 ** 31 }),
    (e: Error) =>
      e instanceof RangeError &&
      /'sweepIntervalMs' must be at most 2147483647 ms.*current value is 2147483648/.test(
        e.message,
      ),
  );
});

Deno.test("jsonSerializer encodes every string exactly as JSON.stringify does", () => {
  const samples = [
    "",
    "plain",
    'say "hi"',
    "back\\slash",
    "tab\tnew\nline\u0000",
    "\u001f\u007f",
    "emoji 😀",
    "lone \ud800 surrogate",
    "\udfff",
    "x".repeat(65),
    "x".repeat(70) + '"',
  ];
  for (const text of samples) {
    const encoded = cache.jsonSerializer.encode(text, "sample");
    assert.equal(encoded, JSON.stringify(text), `encoding of ${JSON.stringify(text)}`);
    assert.equal(cache.jsonSerializer.decode(encoded), text);
  }
});

Deno.test("memory cache keeps an entry's expiry on a write without ttl and clears it with ttl 0", async () => {
  await using c = await cache.create(cache.defaultConfig("development"), {
    driver: cache.memoryCache(),
  });
  await c.string.set("n", 1, { ttlMs: 60_000 });
  await c.string.incr("n"); // keeps the expiry, as Redis INCR does
  const kept = await c.string.ttl("n");
  assert.ok(kept > 59_000 && kept <= 60_000, `ttl after incr: ${kept}`);
  await c.string.set("n", 3); // a plain SET clears it, as in Redis
  assert.equal(await c.string.ttl("n"), -1);
});

Deno.test("memory cache evicts exactly as a reference LRU over 20,000 random operations", async () => {
  let seed = 7;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const maxEntries = 50;
  await using c = await cache.create(cache.defaultConfig("development"), {
    driver: cache.memoryCache({ maxEntries }),
  });
  const reference = new Map<string, number>(); // insertion order = recency, oldest first
  const touch = (key: string, value: number) => {
    reference.delete(key);
    reference.set(key, value);
    if (reference.size > maxEntries) reference.delete(reference.keys().next().value!);
  };
  for (let i = 0; i < 20_000; i++) {
    const key = `k${Math.floor(random() * 120)}`;
    const op = random();
    if (op < 0.45) {
      await c.string.set(key, i);
      touch(key, i);
    } else if (op < 0.9) {
      const expected = reference.get(key);
      if (expected !== undefined) touch(key, expected);
      assert.equal(await c.string.get(key), expected, `get ${key} at step ${i}`);
    } else {
      assert.equal(await c.string.del(key), reference.delete(key) ? 1 : 0, `del ${key} at ${i}`);
    }
  }
  const held = await c.string.mget([...Array(120).keys()].map((n) => `k${n}`));
  assert.equal(held.filter((value) => value !== undefined).length, reference.size);
});

Deno.test("keyspace refuses the same keys with the same errors on short and long keys", () => {
  const space = keyspace("im");
  const long = "x".repeat(20);
  for (const good of ["k", "😀", "ab😀", `${long}😀`, "session:00000042:profile"]) {
    assert.equal(space.key("get", good), `im\x1f${good}`);
  }
  for (const prefix of ["", long]) {
    const separator = `${prefix}a\x1fb`;
    assert.throws(
      () => space.key("get", separator),
      new TypeError(
        `Cannot get as 'key' must not contain U+001F (it ends the key prefix): current value is ${
          JSON.stringify(separator)
        }`,
      ),
    );
    for (const lone of [`${prefix}x\ud800`, `${prefix}\udc00y`, `${prefix}😀\udfff`]) {
      assert.throws(
        () => space.key("get", lone),
        new TypeError(
          `Cannot get as 'key' must be well-formed Unicode: current value is ${
            JSON.stringify(lone)
          }`,
        ),
      );
    }
  }
  for (const empty of ["", 42]) {
    assert.throws(
      () => space.key("get", empty as string),
      new TypeError(
        `Cannot get as 'key' must be a non-empty string: current value is ${JSON.stringify(empty)}`,
      ),
    );
  }
});
