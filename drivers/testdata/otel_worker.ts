/**
 * A process with Deno's built-in OpenTelemetry on (OTEL_DENO=true): records through the kit's
 * otel driver, waits for an export, and exits (the SDK flushes at exit).
 */
import * as metrics from "../../metrics/mod.ts";
import { otelMetrics } from "../otel.ts";

const registry = await metrics.create({
  ...metrics.defaultConfig("production"),
  prefix: "kit_otel_",
  defaultLabels: { service: "im-gateway" },
}, { driver: otelMetrics() });
const sent = registry.counter("sent_total", { help: "Messages sent.", labels: ["channel"] });
sent.add(3, { channel: "push" });
sent.inc({ channel: "sms" });
const open = registry.gauge("connections", { help: "Open connections." });
open.set(10);
open.dec();
const latency = registry.histogram("latency_seconds", { help: "Latency.", buckets: [0.1, 1] });
for (const seconds of [0.05, 0.5, 5]) latency.observe(seconds);
console.log(registry.handler()(new Request("http://x/metrics")).status);
await new Promise((resolve) => setTimeout(resolve, Number(Deno.args[0] ?? 600)));
await registry.close();
