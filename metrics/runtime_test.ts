import assert from "node:assert/strict";
import * as metrics from "./mod.ts";

/** The value of an unlabelled series in Prometheus text. */
function valueOf(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  assert.ok(line, `${name} is rendered:\n${text}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

Deno.test("runtime metrics are on by default: CPU, memory, heap, start time, event-loop lag, open fds", async () => {
  await using registry = await metrics.create({
    ...metrics.defaultConfig("production"),
    defaultLabels: { service: "gw" },
  });
  const started = Date.now();
  while (Date.now() - started < 150); // burn CPU and block the loop for 150 ms
  await new Promise((resolve) => setTimeout(resolve, 120)); // the lag timer fires late, once
  const file = await Deno.open(Deno.execPath());
  const text = registry.render()!;
  file.close();
  assert.ok(valueOf(text, "process_cpu_seconds_total") >= 0.1, "at least the busy 150 ms, roughly");
  assert.equal(
    valueOf(text, "process_cpu_seconds_total").toFixed(6),
    (valueOf(text, "process_cpu_user_seconds_total") +
      valueOf(text, "process_cpu_system_seconds_total")).toFixed(6),
  );
  assert.ok(valueOf(text, "process_resident_memory_bytes") > 10_000_000);
  assert.ok(valueOf(text, "deno_heap_size_used_bytes") > 0);
  assert.ok(
    valueOf(text, "deno_heap_size_used_bytes") <= valueOf(text, "deno_heap_size_total_bytes"),
  );
  const start = valueOf(text, "process_start_time_seconds");
  assert.ok(Math.abs(start - performance.timeOrigin / 1000) < 1);
  assert.ok(valueOf(text, "deno_eventloop_lag_max_seconds") >= 0.05, "a tick fell in the block");
  assert.ok(valueOf(text, "deno_eventloop_lag_max_seconds") < 0.5);
  assert.ok(valueOf(text, "process_open_fds") >= 4, "stdio, the opened file");
  assert.ok(valueOf(text, "process_max_fds") >= valueOf(text, "process_open_fds"));
  assert.match(text, /# TYPE process_cpu_seconds_total counter/);
  assert.match(text, /process_resident_memory_bytes\{service="gw"\}/, "default labels too");
});

Deno.test("runtime metrics are sampled at each render: the CPU counter grows, never shrinks", async () => {
  await using registry = await metrics.create(metrics.defaultConfig("development"));
  const first = valueOf(registry.render()!, "process_cpu_seconds_total");
  const started = Date.now();
  while (Date.now() - started < 30);
  const second = valueOf(registry.render()!, "process_cpu_seconds_total");
  assert.ok(second > first, `${second} > ${first}`);
});

Deno.test("runtimeMetrics: false registers none; bad settings are refused with the field", async () => {
  await using registry = await metrics.create({
    ...metrics.defaultConfig("development"),
    runtimeMetrics: false,
  });
  registry.counter("jobs_total", { help: "Jobs." }).inc();
  assert.doesNotMatch(registry.render()!, /process_|deno_/);
  await assert.rejects(
    metrics.create({ ...metrics.defaultConfig("development"), runtimeMetrics: "yes" as never }),
    /'runtimeMetrics' must be a boolean: current value is yes/,
  );
  await assert.rejects(
    metrics.create({ ...metrics.defaultConfig("development"), runtimeMetricsIntervalMs: 5 }),
    /'runtimeMetricsIntervalMs' must be an integer of at least 100: current value is 5/,
  );
});

Deno.test("runtime metrics never throw nor prompt where /proc/self may not be read (--allow-read only, no permissions)", async () => {
  const script = `
    import * as metrics from ${JSON.stringify(new URL("./mod.ts", import.meta.url).href)};
    const registry = await metrics.create(metrics.defaultConfig("production"));
    const text = registry.render();
    console.log(text.includes("process_resident_memory_bytes"), text.includes("process_open_fds"));
    await registry.close();
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  for (const flags of [["--allow-read"], ["--no-prompt"]]) {
    // `deno run` of a file: `deno eval` would grant every permission.
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `${flags}: ${stderr}`);
    assert.equal(new TextDecoder().decode(output.stdout).trim(), "true false", flags.join(" "));
  }
  await Deno.remove(file);
});
