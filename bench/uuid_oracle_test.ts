/**
 * The kit's UUIDv7 checked by an independent implementation, npm:uuid (a benchmark-project
 * dependency, kept out of the kit's own import map): its validator accepts every id and reads
 * version 7, also the id issued when a millisecond's counter overflows.
 *
 * Run: deno test --allow-all --config bench/deno.json bench/
 */
import assert from "node:assert/strict";
import { validate, version } from "uuid";
import { createUuidV7, uuidv7 } from "../uid/uuidv7.ts";

Deno.test("uuidv7() returns RFC 9562 version 7 UUIDs, as npm:uuid validates them", () => {
  for (let i = 0; i < 1000; i++) {
    const id = uuidv7();
    assert.ok(validate(id), id);
    assert.equal(version(id), 7);
  }
});

Deno.test("the id after a millisecond's counter overflow is one npm:uuid validates", () => {
  const now = 1_800_000_000_000;
  const next = createUuidV7({ clock: { now: () => now }, random: (bytes) => bytes.fill(0xff) });
  for (let i = 0; i < 2 ** 25; i++) next();
  const overflowed = next();
  assert.ok(validate(overflowed), overflowed);
  assert.equal(version(overflowed), 7);
});
