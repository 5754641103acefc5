import assert from "node:assert/strict";
import { capturingLogger } from "../testing/logger.ts";
import * as metrics from "./mod.ts";

function registry(config: Partial<metrics.MetricsConfig> = {}) {
  const { logger, logs } = capturingLogger();
  return {
    logs,
    create: () =>
      metrics.create({ ...metrics.defaultConfig("development"), ...config }, { logger }),
  };
}

Deno.test("renders the Prometheus text format: HELP, TYPE, labels, cumulative buckets, escaping", async () => {
  await using m = await registry({
    prefix: "app_",
    defaultLabels: { service: "gw" },
    runtimeMetrics: false, // the whole text is compared
  }).create();
  const sent = m.counter("sent_total", {
    help: "Messages sent.\nBy channel \\ kind.",
    labels: ["channel"],
  });
  sent.inc({ channel: "push" });
  sent.add(2.5, { channel: 'say "hi"\n' });
  sent.inc({ channel: "push" });
  const open = m.gauge("connections", { help: "Open connections." });
  open.set(7);
  open.dec();
  const latency = m.histogram("latency_seconds", {
    help: "Latency.",
    labels: ["route"],
    buckets: [0.1, 1],
  });
  for (const seconds of [0.05, 0.1, 0.5, 3]) latency.observe(seconds, { route: "/a" });
  assert.equal(
    m.render(),
    [
      "# HELP app_sent_total Messages sent.\\nBy channel \\\\ kind.",
      "# TYPE app_sent_total counter",
      'app_sent_total{service="gw",channel="push"} 2',
      'app_sent_total{service="gw",channel="say \\"hi\\"\\n"} 2.5',
      "# HELP app_connections Open connections.",
      "# TYPE app_connections gauge",
      'app_connections{service="gw"} 6',
      "# HELP app_latency_seconds Latency.",
      "# TYPE app_latency_seconds histogram",
      'app_latency_seconds_bucket{service="gw",route="/a",le="0.1"} 2',
      'app_latency_seconds_bucket{service="gw",route="/a",le="1"} 3',
      'app_latency_seconds_bucket{service="gw",route="/a",le="+Inf"} 4',
      'app_latency_seconds_sum{service="gw",route="/a"} 3.65',
      'app_latency_seconds_count{service="gw",route="/a"} 4',
      "",
    ].join("\n"),
  );
});

Deno.test("an instrument without labels renders without braces; an unused one renders its header only", async () => {
  await using m = await registry({ runtimeMetrics: false }).create();
  m.counter("jobs_total", { help: "Jobs." }).inc();
  m.histogram("idle_seconds", { help: "Unused.", buckets: [1] });
  assert.equal(
    m.render(),
    "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 1\n" +
      "# HELP idle_seconds Unused.\n# TYPE idle_seconds histogram\n",
  );
});

Deno.test("with() binds a label set once; it records into the same series", async () => {
  await using m = await registry().create();
  const hits = m.counter("hits_total", { help: "Hits.", labels: ["code", "ok"] });
  const bound = hits.with({ code: 200, ok: true });
  bound.inc();
  bound.add(3);
  hits.inc({ code: "200", ok: "true" });
  const depth = m.gauge("depth", { help: "Depth.", labels: ["queue"] }).with({ queue: "q" });
  depth.set(5);
  depth.inc();
  depth.add(-2);
  const timing = m.histogram("t_seconds", { help: "T.", buckets: [10] }).with({});
  const stop = timing.startTimer();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const seconds = stop();
  assert.ok(seconds >= 0.004 && seconds < 5, `${seconds}`);
  const text = m.render() ?? "";
  assert.match(text, /hits_total\{code="200",ok="true"\} 5\n/);
  assert.match(text, /depth\{queue="q"\} 4\n/);
  assert.match(text, /t_seconds_count 1\n/);
});

Deno.test("creating an instrument twice returns it; the same name with another definition is refused", async () => {
  await using m = await registry().create();
  const a = m.counter("x_total", { help: "X.", labels: ["a"] });
  assert.equal(m.counter("x_total", { help: "X.", labels: ["a"] }), a);
  assert.throws(
    () => m.counter("x_total", { help: "X.", labels: ["b"] }),
    /'x_total' already exists with another type, help, labels or buckets/,
  );
  assert.throws(() => m.gauge("x_total", { help: "X.", labels: ["a"] }), /already exists/);
});

Deno.test("label sets beyond maxSeriesPerMetric are dropped with one warning", async () => {
  const setup = registry({ maxSeriesPerMetric: 3 });
  await using m = await setup.create();
  const byUser = m.counter("by_user_total", { help: "Unbounded on purpose.", labels: ["user"] });
  for (let i = 0; i < 10; i++) byUser.inc({ user: `u${i}` });
  byUser.inc({ user: "u0" });
  const lines = (m.render() ?? "").split("\n").filter((line) => line.startsWith("by_user_total{"));
  assert.deepEqual(lines, [
    'by_user_total{user="u0"} 2',
    'by_user_total{user="u1"} 1',
    'by_user_total{user="u2"} 1',
  ]);
  const warnings = setup.logs.records.filter((r) => r.msg.includes("too many label sets"));
  assert.equal(warnings.length, 1);
  assert.equal(warnings[0].fields.metric, "by_user_total");
});

Deno.test("bad input gets a clear error naming the problem", async () => {
  await using m = await registry().create();
  assert.throws(() => m.counter("bad-name", { help: "x" }), /name must match/);
  assert.throws(
    () => m.counter("c_total", { help: "x", labels: ["__reserved"] }),
    /label name "__reserved" must match/,
  );
  assert.throws(
    () => m.counter("c2_total", { help: "x", labels: ["a", "a"] }),
    /'a' appears twice/,
  );
  assert.throws(() => m.histogram("h", { help: "x", labels: ["le"] }), /'le' is the bucket label/);
  await using withLe = await metrics.create({
    ...metrics.defaultConfig("development"),
    defaultLabels: { le: "x" },
  });
  assert.throws(
    () => withLe.histogram("h", { help: "x" }),
    /the default label 'le' is the bucket label of histograms/,
  );
  assert.throws(() => m.histogram("h2", { help: "x", buckets: [1, 1] }), /increasing finite/);
  assert.throws(
    () => m.gauge("g", {} as metrics.InstrumentOptions<never>),
    /'help' must be a string/,
  );
  const c = m.counter("c3_total", { help: "x", labels: ["route"] });
  assert.throws(() => c.inc(), /without its labels: route/);
  assert.throws(() => c.inc({} as metrics.Labels<"route">), /label 'route' is missing/);
  assert.throws(
    () => c.inc({ route: "/", user: "7" } as metrics.Labels<"route">),
    /label 'user' is not declared \(declared: route\)/,
  );
  assert.throws(
    () => c.add(-1, { route: "/" }),
    /finite, non-negative number: current value is -1/,
  );
  assert.throws(() => c.with({ route: "/" }).add(NaN), /current value is NaN/);
  const plain = m.counter("c4_total", { help: "x" });
  assert.throws(
    () => plain.inc({ a: 1 } as unknown as metrics.Labels<never>),
    /with labels: it declares none/,
  );
  assert.throws(() => m.histogram("h3", { help: "x" }).observe(Infinity), /finite/);
  assert.throws(
    () => m.http("no" as unknown as metrics.ServeHandler),
    /'handler' must be a function/,
  );
  const make = (config: Partial<metrics.MetricsConfig>) =>
    metrics.create({ ...metrics.defaultConfig("development"), ...config });
  await assert.rejects(make({ prefix: "1x" }), /'prefix' must be empty or match/);
  await assert.rejects(make({ defaultLabels: { "bad-label": "x" } }), /label name "bad-label"/);
  await assert.rejects(
    make({ defaultLabels: { env: 1 as unknown as string } }),
    /default label 'env' must be a string/,
  );
  await assert.rejects(make({ buckets: [] }), /'buckets' must be a non-empty list/);
  await assert.rejects(make({ maxSeriesPerMetric: 0 }), /'maxSeriesPerMetric' must be a positive/);
  assert.throws(() => metrics.defaultConfig("qa" as "production"), /'env' must be/);
});
