import assert from "node:assert/strict";
import { createUuidV7, uuidv7, uuidv7Time } from "./uuidv7.ts";

/** RFC 9562's layout of a version 7, variant 10 UUID (npm:uuid checks the same, in bench/). */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("uuidv7() returns RFC 9562 version 7 UUIDs", () => {
  for (let i = 0; i < 1000; i++) assert.match(uuidv7(), UUID_V7);
});

Deno.test("uuidv7() embeds the current Unix time in milliseconds", () => {
  const before = Date.now();
  const id = uuidv7();
  const after = Date.now();
  const time = uuidv7Time(id);
  assert.ok(before <= time && time <= after, `${before} <= ${time} <= ${after}`);
});

Deno.test("ids are strictly increasing and unique across 200,000 calls in a tight loop", () => {
  let previous = uuidv7();
  const seen = new Set([previous]);
  for (let i = 0; i < 200_000; i++) {
    const id = uuidv7();
    assert.ok(id > previous, `${id} must sort after ${previous}`);
    seen.add(id);
    previous = id;
  }
  assert.equal(seen.size, 200_001);
});

Deno.test("a backward clock step keeps ids increasing", () => {
  let now = 1_800_000_000_000;
  const next = createUuidV7({ clock: { now: () => now } });
  const first = next();
  now -= 5_000;
  const second = next();
  assert.ok(second > first);
  assert.equal(uuidv7Time(second), 1_800_000_000_000, "keeps the last timestamp");
  now += 10_000;
  assert.equal(uuidv7Time(next()), 1_800_000_005_000);
});

Deno.test("when a millisecond's counter runs out, the timestamp moves one millisecond ahead", () => {
  const now = 1_800_000_000_000;
  // The counter seeds at its highest start value (2^25 − 1), so 2^25 + 1 ids fit in the millisecond.
  const next = createUuidV7({ clock: { now: () => now }, random: (bytes) => bytes.fill(0xff) });
  const first = next();
  let last = first;
  for (let i = 0; i < 2 ** 25; i++) last = next();
  assert.equal(uuidv7Time(last), now);
  assert.equal(last.slice(14, 23), "7fff-bfff", "counter at its maximum");
  const overflowed = next();
  assert.equal(uuidv7Time(overflowed), now + 1);
  assert.ok(first < last && last < overflowed);
  assert.match(overflowed, UUID_V7);
});

Deno.test("uuidv7Time() rejects strings that are not UUIDv7", () => {
  assert.throws(() => uuidv7Time(crypto.randomUUID()), /'id' is not a UUIDv7/);
});
