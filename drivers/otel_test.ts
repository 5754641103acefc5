/**
 * The otel driver end to end: a child process with Deno's built-in OpenTelemetry SDK records
 * through the kit and exports over OTLP/HTTP (JSON); this test is the receiving end and checks
 * the data points it gets.
 */
import assert from "node:assert/strict";
import { eventually } from "../testing/eventually.ts";

interface DataPoint {
  attributes?: { key: string; value: { stringValue?: string } }[];
  asInt?: string;
  asDouble?: number;
  count?: string;
  sum?: number;
  bucketCounts?: string[];
  explicitBounds?: number[];
}
interface Metric {
  name: string;
  description?: string;
  sum?: { dataPoints: DataPoint[]; isMonotonic?: boolean };
  gauge?: { dataPoints: DataPoint[] };
  histogram?: { dataPoints: DataPoint[] };
}

const attrs = (point: DataPoint) =>
  Object.fromEntries((point.attributes ?? []).map((a) => [a.key, a.value.stringValue]));
const value = (point: DataPoint) => point.asDouble ?? Number(point.asInt);

Deno.test("otelMetrics: counters, gauges and histograms reach an OTLP receiver with their labels", async () => {
  const received: Metric[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (new URL(request.url).pathname === "/v1/metrics") {
      const body = await request.json();
      for (const resource of body.resourceMetrics ?? []) {
        for (const scope of resource.scopeMetrics ?? []) {
          if (scope.scope?.name === "@gochat/kit") received.push(...scope.metrics);
        }
      }
    } else await request.body?.cancel();
    return Response.json({});
  });
  try {
    const child = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("./testdata/otel_worker.ts", import.meta.url).pathname,
        "800",
      ],
      env: {
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        OTEL_METRIC_EXPORT_INTERVAL: "200",
        OTEL_SERVICE_NAME: "kit-otel-test",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(child.stderr);
    assert.equal(child.code, 0, stderr);
    assert.equal(new TextDecoder().decode(child.stdout).trim(), "404", "no /metrics: OTel exports");
    const latest = (name: string) => received.findLast((metric) => metric.name === name);
    await eventually(() => assert.ok(latest("kit_otel_latency_seconds"), "exported"));

    const sent = latest("kit_otel_sent_total")!;
    assert.equal(sent.description, "Messages sent.");
    assert.equal(sent.sum?.isMonotonic, true);
    const byChannel = Object.fromEntries(
      sent.sum!.dataPoints.map((point) => [attrs(point).channel, value(point)]),
    );
    assert.deepEqual(byChannel, { push: 3, sms: 1 });
    assert.equal(attrs(sent.sum!.dataPoints[0]).service, "im-gateway", "default labels too");

    const [gauge] = latest("kit_otel_connections")!.gauge!.dataPoints;
    assert.equal(value(gauge), 9, "set 10, then dec");

    const [histogram] = latest("kit_otel_latency_seconds")!.histogram!.dataPoints;
    assert.deepEqual(histogram.explicitBounds, [0.1, 1], "the kit's buckets, as advice");
    assert.deepEqual(histogram.bucketCounts?.map(Number), [1, 1, 1]);
    assert.equal(Number(histogram.count), 3);
    assert.equal(histogram.sum, 5.55);
  } finally {
    await server.shutdown();
  }
});
