import assert from "node:assert/strict";
import { consoleFormatter, jsonFormatter, serializeError } from "./format.ts";
import type { Fields, LogRecord } from "./types.ts";

function record(fields: Fields, extra: Partial<LogRecord> = {}): LogRecord {
  return {
    time: Date.UTC(2026, 10, 21, 23, 34, 11, 7),
    level: "info",
    namespace: "im.repo",
    msg: "saved",
    traceId: undefined,
    bound: {},
    fields,
    ...extra,
  };
}

Deno.test("JSON line carries time, level, namespace, msg, trace_id and fields in one object", () => {
  const line = jsonFormatter()(
    record({ id: 42, ok: true, name: 'quote " and \n newline' }, { traceId: "abc" }),
  );
  assert.ok(line.endsWith("}\n"));
  assert.equal(line.indexOf("\n"), line.length - 1, "exactly one line");
  assert.deepEqual(JSON.parse(line), {
    time: "2026-11-21T23:34:11.007Z",
    level: "info",
    namespace: "im.repo",
    msg: "saved",
    trace_id: "abc",
    id: 42,
    ok: true,
    name: 'quote " and \n newline',
  });
});

Deno.test("JSON time is exact for every millisecond of a cached second", () => {
  const format = jsonFormatter();
  for (const ms of [0, 9, 10, 99, 100, 999]) {
    const time = Date.UTC(2026, 0, 1, 0, 0, 0, ms);
    assert.equal(JSON.parse(format(record({}, { time }))).time, new Date(time).toISOString());
  }
});

Deno.test("errors serialize with message, stack, code and the whole cause chain", () => {
  const root = Object.assign(new Error("socket closed"), { code: "ECONNRESET" });
  const error = new TypeError("query failed", { cause: new Error("pool", { cause: root }) });
  const parsed = JSON.parse(jsonFormatter()(record({ err: error })));
  assert.equal(parsed.err.name, "TypeError");
  assert.equal(parsed.err.message, "query failed");
  assert.match(parsed.err.stack, /query failed\n\s+at /);
  assert.equal(parsed.err.cause.message, "pool");
  assert.equal(parsed.err.cause.cause.message, "socket closed");
  assert.equal(parsed.err.cause.cause.code, "ECONNRESET");
  const aggregate = serializeError(new AggregateError([new Error("a")], "many")) as {
    errors: { message: string }[];
  };
  assert.equal(aggregate.errors[0].message, "a");
});

Deno.test("values JSON cannot hold are converted instead of throwing", () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const shared = { x: 1 };
  const parsed = JSON.parse(
    jsonFormatter()(record({
      big: 2n ** 70n,
      nan: NaN,
      cyclic,
      twice: [shared, shared],
      nested: {
        err: new Error("deep"),
        when: new Date(0),
        tags: new Set(["a"]),
        map: new Map([["k", 1]]),
      },
      fn: function handler() {},
      missing: undefined,
    })),
  );
  assert.equal(parsed.big, (2n ** 70n).toString());
  assert.equal(parsed.nan, "NaN");
  assert.deepEqual(parsed.cyclic, { name: "loop", self: "[Circular]" });
  assert.deepEqual(parsed.twice, [{ x: 1 }, { x: 1 }], "a shared object is not a cycle");
  assert.equal(parsed.nested.err.message, "deep");
  assert.equal(parsed.nested.when, "1970-01-01T00:00:00.000Z");
  assert.deepEqual(parsed.nested.tags, ["a"]);
  assert.deepEqual(parsed.nested.map, { k: 1 });
  assert.equal(parsed.fn, "[Function handler]");
  assert.equal("missing" in parsed, false);
});

Deno.test("a field named like a line key is prefixed instead of duplicating the key", () => {
  const line = jsonFormatter()(record({ msg: "user text", level: 3 }));
  const parsed = JSON.parse(line);
  assert.equal(parsed.msg, "saved");
  assert.equal(parsed.field_msg, "user text");
  assert.equal(parsed.field_level, 3);
  assert.equal(line.match(/"msg":/g)?.length, 1);
});

Deno.test("bound fields appear once, a call-site field of the same name wins", () => {
  const format = jsonFormatter();
  const bound = Object.freeze({ shard: 1, region: "eu" });
  const first = JSON.parse(format(record({ id: 1 }, { bound })));
  const second = JSON.parse(format(record({ shard: 2 }, { bound })));
  const line = format(record({ shard: 2 }, { bound }));
  assert.deepEqual([first.shard, first.region, first.id], [1, "eu", 1]);
  assert.deepEqual([second.shard, second.region], [2, "eu"]);
  assert.equal(line.match(/"shard":/g)?.length, 1);
});

Deno.test("the namespace cache never mixes namespaces that share bound fields", () => {
  const format = jsonFormatter();
  assert.equal(JSON.parse(format(record({}, { namespace: "a" }))).namespace, "a");
  assert.equal(JSON.parse(format(record({}, { namespace: "b" }))).namespace, "b");
  assert.equal(JSON.parse(format(record({}, { namespace: "a" }))).namespace, "a");
});

Deno.test("console format is readable and prints error stacks with causes", () => {
  const error = new Error("outer", { cause: new Error("inner") });
  const line = consoleFormatter({ color: false })(
    record({ user: "ann lee", n: 3, big: 5n, err: error }, { traceId: "t1", level: "error" }),
  );
  const [first, ...rest] = line.trimEnd().split("\n");
  assert.equal(
    first,
    '23:34:11.007 ERROR im.repo saved user="ann lee" n=3 big=5 err="outer" trace_id=t1',
  );
  assert.match(rest.join("\n"), /err: Error: outer\n\s+at [\s\S]*caused by: Error: inner/);
  const colored = consoleFormatter({ color: true })(record({}, { level: "warn" }));
  assert.ok(colored.includes("\x1b[33mWARN"), JSON.stringify(colored));
});
