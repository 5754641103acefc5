import assert from "node:assert/strict";
import * as clog from "./mod.ts";
import type { ClogConfig, LogRecord, Sink } from "./mod.ts";

const json: ClogConfig = { level: "info", format: "json", output: "stdout" };

function merged(record: LogRecord): Record<string, unknown> {
  return { ...record.bound, ...record.fields };
}

Deno.test("namespace() chains with dots and with() binds fields to every line", () => {
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  const repo = logger.namespace("im").namespace("repo");
  assert.equal(repo.name, "im.repo");
  const bound = repo.with({ shard: 1 }).with({ region: "eu" });
  bound.info("saved", { id: 7 });
  bound.info("overridden", { shard: 9 });
  assert.equal(sink.records[0].namespace, "im.repo");
  assert.deepEqual(merged(sink.records[0]), { shard: 1, region: "eu", id: 7 });
  assert.deepEqual(merged(sink.records[1]), { shard: 9, region: "eu" });
});

Deno.test("lines below the level are dropped and setLevel() applies at once to existing children", () => {
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  const child = logger.namespace("a");
  child.debug("hidden");
  child.info("shown");
  assert.equal(child.enabled("debug"), false);
  logger.setLevel("trace");
  assert.equal(logger.level, "trace");
  child.trace("now shown");
  logger.setLevel("error");
  child.warn("hidden again");
  child.error("error shown");
  assert.deepEqual(sink.records.map((r) => [r.level, r.msg]), [
    ["info", "shown"],
    ["trace", "now shown"],
    ["error", "error shown"],
  ]);
});

Deno.test("withTrace() stamps trace_id on lines across awaits and timers, and only inside", async () => {
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  const log = logger.namespace("t");
  const id = clog.newTraceId();
  await clog.withTrace(id, async () => {
    log.info("sync");
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.info("after timer");
    await new Promise<void>((resolve) =>
      setTimeout(() => {
        log.info("inside timer");
        resolve();
      }, 1)
    );
  });
  log.info("outside");
  assert.deepEqual(sink.records.map((r) => r.traceId), [id, id, id, undefined]);
  assert.match(id, /^[0-9a-f]{32}$/);
});

Deno.test("concurrent withTrace() scopes keep their own trace ids", async () => {
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  await Promise.all(["a", "b", "c"].map((id, i) =>
    clog.withTrace(id, async () => {
      await new Promise((resolve) => setTimeout(resolve, 10 - i * 3));
      logger.info(id);
    })
  ));
  for (const record of sink.records) assert.equal(record.traceId, record.msg);
  assert.equal(sink.records.length, 3);
});

Deno.test("withTrace() rejects an empty trace id", () => {
  assert.throws(() => clog.withTrace("", () => 1), /'traceId' must be a non-empty string/);
});

Deno.test("fatal() logs and flushes buffered sinks without exiting", () => {
  const writes: string[] = [];
  const sink = clog.writerSink({
    writeSync: (bytes) => (writes.push(new TextDecoder().decode(bytes)), bytes.length),
  }, { formatter: clog.jsonFormatter(), bufferBytes: 1 << 16, flushIntervalMs: 0 });
  using logger = clog.create(json, { sinks: [sink] });
  logger.info("buffered");
  assert.equal(writes.length, 0);
  logger.fatal("disk on fire", { disk: "sda" });
  assert.equal(writes.length, 1);
  const lines = writes[0].trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((l) => [l.level, l.msg]), [["info", "buffered"], [
    "fatal",
    "disk on fire",
  ]]);
});

Deno.test("a throwing sink never breaks the caller or the other sinks", () => {
  const good = clog.memorySink();
  const bad: Sink = () => {
    throw new Error("sink down");
  };
  const originalError = console.error;
  const reported: unknown[] = [];
  console.error = (...args: unknown[]) => reported.push(args);
  try {
    using logger = clog.create(json, { sinks: [bad, good] });
    logger.info("one");
    logger.info("two");
  } finally {
    console.error = originalError;
  }
  assert.equal(good.records.length, 2);
  assert.ok(reported.length <= 1);
});

Deno.test("bad config fails with an error naming the field and value", () => {
  assert.throws(
    () => clog.create({ ...json, level: "verbose" as never }),
    (e: Error) =>
      e instanceof RangeError && /'level' must be one of trace, debug/.test(e.message) &&
      /"verbose"/.test(e.message),
  );
  assert.throws(
    () => clog.create({ ...json, format: "xml" as never }),
    (e: Error) => e instanceof RangeError && /'format'.*"xml"/.test(e.message),
  );
  assert.throws(
    () => clog.create({ ...json, output: "stdot" as never }),
    (e: Error) => e instanceof RangeError && /'output'.*"stdot"/.test(e.message),
  );
  assert.throws(
    () => clog.create({ ...json, levle: "info" } as never),
    (e: Error) =>
      e instanceof TypeError && /'levle' is not a config key \(allowed: level, /.test(e.message),
  );
  assert.throws(
    () => clog.create({ ...json, output: { file: "/nonexistent-dir/x/app.log" } }),
    /output file '\/nonexistent-dir\/x\/app.log' cannot be opened for appending/,
  );
  assert.throws(
    () => clog.create({ ...json, bufferBytes: -1 }),
    /'bufferBytes' must be a non-negative integer/,
  );
  assert.throws(
    () => clog.defaultConfig("staging" as never),
    /'env' must be "development" or "production"/,
  );
});

Deno.test("init() with bad config keeps the previous setup", () => {
  const sink = clog.memorySink();
  clog.init(json, { sinks: [sink] });
  try {
    assert.throws(() => clog.init({ ...json, level: "loud" as never }), RangeError);
    clog.info("still logged");
    assert.equal(sink.records.length, 1);
  } finally {
    clog.close();
  }
});

Deno.test("loggers taken before init() follow its level, sinks and root namespace", () => {
  const early = clog.namespace("repo");
  const sink = clog.memorySink();
  clog.init({ ...json, level: "debug", namespace: "svc" }, { sinks: [sink] });
  try {
    early.debug("after init");
    clog.setLevel("warn");
    early.info("dropped");
    clog.warn("root line");
    assert.deepEqual(sink.records.map((r) => [r.namespace, r.msg]), [
      ["svc.repo", "after init"],
      ["svc", "root line"],
    ]);
  } finally {
    clog.close();
  }
});

Deno.test("file output appends JSON lines and close() flushes the buffer", async () => {
  const path = await Deno.makeTempFile({ suffix: ".log" });
  try {
    await Deno.writeTextFile(path, "existing\n");
    const logger = clog.create({ ...json, output: { file: path }, bufferBytes: 4096 });
    logger.namespace("f").info("one", { n: 1 });
    logger.info("two");
    assert.equal(await Deno.readTextFile(path), "existing\n");
    logger.close();
    const lines = (await Deno.readTextFile(path)).trim().split("\n");
    assert.equal(lines[0], "existing");
    assert.deepEqual(lines.slice(1).map((line) => JSON.parse(line).msg), ["one", "two"]);
    logger.info("after close is dropped");
    assert.equal((await Deno.readTextFile(path)).trim().split("\n").length, 3);
  } finally {
    await Deno.remove(path);
  }
});

async function runChild(script: string, path: string): Promise<Deno.CommandOutput> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  try {
    return await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-write", file, path],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } finally {
    await Deno.remove(file);
  }
}

const modUrl = new URL("./mod.ts", import.meta.url).href;

Deno.test("no buffered line is lost at process exit, by Deno.exit() or by the end of the program", async () => {
  for (const ending of ["Deno.exit(3);", "await new Promise((r) => setTimeout(r, 10));"]) {
    const path = await Deno.makeTempFile({ suffix: ".log" });
    try {
      const output = await runChild(
        `import * as clog from ${JSON.stringify(modUrl)};
clog.init({ level: "info", format: "json", output: { file: Deno.args[0] }, bufferBytes: 1 << 20 });
for (let i = 0; i < 1000; i++) clog.namespace("exit").info("line", { i });
${ending}`,
        path,
      );
      assert.equal(new TextDecoder().decode(output.stderr), "");
      const lines = (await Deno.readTextFile(path)).trim().split("\n");
      assert.equal(lines.length, 1000, `ending ${ending}`);
      assert.equal(JSON.parse(lines[999]).i, 999);
    } finally {
      await Deno.remove(path);
    }
  }
});

Deno.test("the flush timer does not keep a finished process alive", async () => {
  const path = await Deno.makeTempFile({ suffix: ".log" });
  try {
    const started = Date.now();
    const output = await runChild(
      `import * as clog from ${JSON.stringify(modUrl)};
clog.init({ level: "info", format: "json", output: { file: Deno.args[0] }, bufferBytes: 4096, flushIntervalMs: 60000 });
clog.info("done");`,
      path,
    );
    assert.equal(output.code, 0);
    assert.ok(Date.now() - started < 30_000, "process should exit without waiting for the timer");
    assert.equal(JSON.parse(await Deno.readTextFile(path)).msg, "done");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("init() again with the same sink keeps that sink open", async () => {
  const path = await Deno.makeTempFile({ suffix: ".log" });
  const file = clog.outputSink({ ...json, output: { file: path } });
  try {
    clog.init(json, { sinks: [file] });
    clog.init({ ...json, level: "debug" }, { sinks: [file] });
    clog.debug("still open");
    assert.equal(JSON.parse(await Deno.readTextFile(path)).msg, "still open");
  } finally {
    clog.close();
    await Deno.remove(path);
  }
});
