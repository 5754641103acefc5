import assert from "node:assert/strict";
import { FakeClock } from "../testing/clock.ts";
import * as uid from "./mod.ts";
import { ClockMovedBackwardsError, SnowflakeGenerator } from "./snowflake.ts";

const epochMs = Date.UTC(2024, 0, 1);

Deno.test("the default layout packs 41 bits of time, 10 of worker and 12 of sequence", async () => {
  const clock = new FakeClock(epochMs + 1234);
  await using ids = await uid.create({ ...uid.defaultConfig("production"), workerId: 1023 }, {
    clock,
  });
  const id = ids.nextId();
  assert.equal(id, (1234n << 22n) | (1023n << 12n));
  assert.deepEqual(ids.parse(id), { timestampMs: epochMs + 1234, workerId: 1023, sequence: 0 });
  assert.deepEqual(ids.parse(ids.nextIdString()), {
    timestampMs: epochMs + 1234,
    workerId: 1023,
    sequence: 1,
  });
});

Deno.test("epoch and bit widths are configurable", () => {
  const clock = new FakeClock(1_000_000 + 77);
  const ids = new SnowflakeGenerator({
    workerId: 5,
    epochMs: 1_000_000,
    workerIdBits: 4,
    sequenceBits: 6,
  }, clock);
  const id = ids.nextId();
  assert.equal(id, (77n << 10n) | (5n << 6n));
  assert.deepEqual(ids.parse(id), { timestampMs: 1_000_077, workerId: 5, sequence: 0 });
  assert.equal(ids.layout.timestampBits, 53);
});

Deno.test("after 4096 ids in one millisecond it waits for the next millisecond instead of wrapping", () => {
  const clock = new FakeClock(epochMs + 10);
  const ids = new SnowflakeGenerator({ workerId: 1 }, clock);
  const seen = new Set<bigint>();
  for (let i = 0; i < 4096; i++) seen.add(ids.nextId());
  assert.equal(seen.size, 4096);
  // The fake clock stands still, so the 4097th id can only come from waiting it forward.
  const sleptBefore = clock.sleptMs;
  const next = ids.nextId();
  assert.ok(clock.sleptMs > sleptBefore, "the generator waited");
  assert.equal(seen.has(next), false);
  assert.deepEqual(ids.parse(next), { timestampMs: epochMs + 11, workerId: 1, sequence: 0 });
});

Deno.test("a backward clock step within maxBackwardMs is waited out without a duplicate", () => {
  const clock = new FakeClock(epochMs + 1000);
  const ids = new SnowflakeGenerator({ workerId: 2, maxBackwardMs: 10 }, clock);
  const before = [ids.nextId(), ids.nextId()];
  clock.set(epochMs + 995);
  const after = ids.nextId();
  assert.ok(after > before[1]);
  assert.ok(clock.sleptMs >= 5);
  assert.ok(ids.parse(after).timestampMs > epochMs + 1000);
});

Deno.test("a backward clock step beyond maxBackwardMs fails with a clear error and no id", () => {
  const clock = new FakeClock(epochMs + 5000);
  const ids = new SnowflakeGenerator({ workerId: 2, maxBackwardMs: 10 }, clock);
  const last = ids.nextId();
  clock.set(epochMs + 4000);
  assert.throws(
    () => ids.nextId(),
    (error: unknown) =>
      error instanceof ClockMovedBackwardsError && error.behindMs === 1000 &&
      error.maxBackwardMs === 10 && /moved back 1000 ms/.test(error.message),
  );
  clock.set(epochMs + 5001);
  assert.ok(ids.nextId() > last, "recovers once the clock is past the last id");
});

Deno.test("real clock: 300,000 ids in a tight loop are unique and strictly increasing", async () => {
  await using ids = await uid.create(uid.defaultConfig("development"));
  let previous = ids.nextId();
  const seen = new Set<bigint>([previous]);
  for (let i = 0; i < 300_000; i++) {
    const id = ids.nextId();
    assert.ok(id > previous);
    seen.add(id);
    previous = id;
  }
  assert.equal(seen.size, 300_001);
});

Deno.test("parse() rejects what is not an id", () => {
  const ids = new SnowflakeGenerator({ workerId: 0 });
  assert.throws(() => ids.parse("12a"), TypeError);
  assert.throws(() => ids.parse(-1n), RangeError);
  assert.throws(() => ids.parse(1n << 63n), RangeError);
});

Deno.test("bad config is rejected at create() naming the field and value", async () => {
  const base = { ...uid.defaultConfig("production"), workerId: 0 };
  const cases: [uid.UidConfig, RegExp][] = [
    [
      { ...base, workerId: 1024 },
      /'workerId' must be an integer from 0 to 1023: current value is 1024/,
    ],
    [{ ...base, workerId: -1 }, /'workerId'/],
    [{ ...base, workerId: 1.5 }, /'workerId'/],
    [{ ...base, sequenceBits: 0 }, /'sequenceBits' must be an integer from 1 to 22/],
    [
      { ...base, workerIdBits: 16, sequenceBits: 16 },
      /'workerIdBits \+ sequenceBits' must be at most 24/,
    ],
    [{ ...base, epochMs: Date.now() + 60_000 }, /'epochMs'/],
    [{ ...base, maxBackwardMs: -5 }, /'maxBackwardMs'/],
  ];
  for (const [config, message] of cases) {
    await assert.rejects(
      uid.create(config),
      (e: Error) => e instanceof RangeError && message.test(e.message),
    );
  }
  assert.throws(
    () => uid.defaultConfig("test" as never),
    /'env' must be "development" or "production"/,
  );
});

Deno.test("a closed generator issues no more ids", async () => {
  const ids = await uid.create(uid.defaultConfig("development"));
  ids.nextId();
  await ids.close();
  assert.throws(() => ids.nextId(), /generator is closed/);
});

Deno.test("production config without workerId or coord is refused, saying how to fix it; development keeps worker 0", async () => {
  await assert.rejects(
    uid.create(uid.defaultConfig("production")),
    (e: Error) =>
      e instanceof TypeError && /'workerId' is not set/.test(e.message) &&
      e.message.includes("unique to each replica") && e.message.includes("{ coord }"),
  );
  await using explicit = await uid.create({ ...uid.defaultConfig("production"), workerId: 9 });
  assert.equal(explicit.workerId, 9);
  await using development = await uid.create(uid.defaultConfig("development"));
  assert.equal(development.workerId, 0);
});
