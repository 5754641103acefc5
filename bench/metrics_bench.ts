/**
 * The memory metrics driver beside prom-client, the anchor: a labelled counter
 * increment, the same with the label set bound once, a labelled histogram
 * observation, and rendering 1,000 series for a scrape.
 *
 * Recording runs 1,000 calls per iteration: divide by 1,000 for one.
 *
 * Run: deno bench --allow-all bench/metrics_bench.ts
 */
import { Counter, Histogram, Registry } from "prom-client";
import { quietLogger } from "../testing/logger.ts";
import * as metrics from "../metrics/mod.ts";

const batch = 1_000;
const kit = await metrics.create(metrics.defaultConfig("production"), { logger: quietLogger() });
const anchor = new Registry();
const labels = ["method", "route", "status"] as const;
const kitCounter = kit.counter("requests_total", { help: "Requests.", labels });
const anchorCounter = new Counter({
  name: "requests_total",
  help: "Requests.",
  labelNames: labels,
  registers: [anchor],
});
const kitHistogram = kit.histogram("duration_seconds", { help: "Duration.", labels });
const anchorHistogram = new Histogram({
  name: "duration_seconds",
  help: "Duration.",
  labelNames: labels,
  registers: [anchor],
});
const requests = [200, 201, 404, 500].map((status) => ({
  method: "GET",
  route: "/users/:id",
  status: String(status),
}));

Deno.bench("kit: 1,000 × counter.inc(labels)", { group: "inc", baseline: true }, () => {
  for (let n = 0; n < batch; n++) kitCounter.inc(requests[n & 3]);
});
Deno.bench("prom-client: 1,000 × counter.inc(labels)", { group: "inc" }, () => {
  for (let n = 0; n < batch; n++) anchorCounter.inc(requests[n & 3]);
});

const kitBound = kitCounter.with(requests[0]);
const anchorBound = anchorCounter.labels(requests[0]);
Deno.bench("kit: 1,000 × bound counter inc()", { group: "bound", baseline: true }, () => {
  for (let n = 0; n < batch; n++) kitBound.inc();
});
Deno.bench("prom-client: 1,000 × labels(…).inc() child", { group: "bound" }, () => {
  for (let n = 0; n < batch; n++) anchorBound.inc();
});

Deno.bench(
  "kit: 1,000 × histogram.observe(v, labels)",
  { group: "observe", baseline: true },
  () => {
    for (let n = 0; n < batch; n++) kitHistogram.observe((n % 100) / 100, requests[n & 3]);
  },
);
Deno.bench("prom-client: 1,000 × histogram.observe(labels, v)", { group: "observe" }, () => {
  for (let n = 0; n < batch; n++) anchorHistogram.observe(requests[n & 3], (n % 100) / 100);
});

// A scrape: 1,000 counter series and 100 histogram series (1,400 lines with their buckets).
for (let i = 0; i < 1_000; i++) {
  const many = { method: "GET", route: `/r${i}`, status: "200" };
  kitCounter.inc(many);
  anchorCounter.inc(many);
  if (i < 100) {
    kitHistogram.observe(0.1, many);
    anchorHistogram.observe(many, 0.1);
  }
}
Deno.bench("kit: render a scrape", { group: "render", baseline: true }, () => {
  kit.render();
});
Deno.bench("prom-client: await registry.metrics()", { group: "render" }, async () => {
  await anchor.metrics();
});
