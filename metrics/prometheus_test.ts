/**
 * A real Prometheus scrapes the memory driver's /metrics endpoint and answers
 * queries with the recorded values: the exposition is valid for the server
 * that matters, not only for our own reading of the format. Runs when a
 * `prometheus` binary is on PATH (`.ci/run` installs Debian's package). The
 * handler's own HTTP behaviour (content type, GET and HEAD only) is tested
 * without it.
 */
import assert from "node:assert/strict";
import { eventually } from "../testing/eventually.ts";
import { quietLogger } from "../testing/logger.ts";
import * as metrics from "./mod.ts";

/** Whether `prometheus` runs; spawning a missing binary throws before any promise exists. */
async function prometheusAvailable(): Promise<boolean> {
  try {
    const command = new Deno.Command("prometheus", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    });
    return (await command.output()).success;
  } catch {
    return false;
  }
}

const available = await prometheusAvailable();

/** A port free right now on loopback. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, promql: string): Promise<QueryResult[]> {
  const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await response.json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.result;
}

Deno.test({
  name:
    "[prometheus] a real Prometheus scrapes /metrics and answers queries with the recorded values",
  ignore: !available,
  async fn() {
    await using registry = await metrics.create({
      ...metrics.defaultConfig("production"),
      prefix: "kit_test_",
      defaultLabels: { service: "im-gateway" },
    }, { logger: quietLogger() });
    const sent = registry.counter("sent_total", {
      help: "Messages sent, by channel.\nSecond line with a \\ backslash.",
      labels: ["channel"],
    });
    sent.add(3, { channel: "push" });
    sent.inc({ channel: 'quote " and \\ backslash' });
    registry.gauge("connections", { help: "Open connections." }).set(-2.5);
    const latency = registry.histogram("latency_seconds", {
      help: "Latency.",
      buckets: [0.1, 1],
    });
    for (const seconds of [0.05, 0.5, 5]) latency.observe(seconds);
    const app = registry.http(() => new Response("ok"));
    await (await app(new Request("http://x/users/7"), {} as Deno.ServeHandlerInfo)).text();

    const dir = await Deno.makeTempDir({ prefix: "kit-prometheus-" });
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      registry.handler(),
    );
    const port = freePort();
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "scrape_configs:",
        "  - job_name: kit",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${server.addr.port}"]`,
      ].join("\n"),
    );
    const prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = prometheus.stderr.pipeThrough(new TextDecoderStream()).getReader();
    const base = `http://127.0.0.1:${port}`;
    try {
      const target = await eventually(async () => {
        const response = await fetch(`${base}/api/v1/targets`);
        const [active] = (await response.json()).data.activeTargets;
        assert.equal(active?.health, "up", JSON.stringify(active));
        return active;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      assert.equal(target.lastError, "", "the scrape parsed without error");

      const byChannel = Object.fromEntries(
        (await query(base, "kit_test_sent_total")).map((r) => [r.metric.channel, r.value[1]]),
      );
      assert.deepEqual(byChannel, { push: "3", 'quote " and \\ backslash': "1" });
      const [gauge] = await query(base, "kit_test_connections");
      assert.equal(gauge.value[1], "-2.5");
      assert.equal(gauge.metric.service, "im-gateway", "default labels reach Prometheus");
      const buckets = Object.fromEntries(
        (await query(base, "kit_test_latency_seconds_bucket")).map((
          r,
        ) => [r.metric.le, r.value[1]]),
      );
      assert.deepEqual(buckets, { "0.1": "1", "1": "2", "+Inf": "3" });
      const [sum] = await query(base, "kit_test_latency_seconds_sum");
      assert.equal(sum.value[1], "5.55");
      const [requests] = await query(base, 'kit_test_http_requests_total{route="/users/:id"}');
      assert.equal(requests.value[1], "1");
      assert.equal(requests.metric.status, "200");
      const [help] = (await (await fetch(`${base}/api/v1/metadata?metric=kit_test_sent_total`))
        .json()).data.kit_test_sent_total;
      assert.equal(help.help, "Messages sent, by channel.\nSecond line with a \\ backslash.");
      assert.equal(help.type, "counter");
    } finally {
      prometheus.kill("SIGTERM");
      await prometheus.status;
      await stderr.cancel();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("handler() serves the exposition with Prometheus's content type; GET and HEAD only", async () => {
  await using m = await metrics.create(metrics.defaultConfig("development"), {
    logger: quietLogger(),
  });
  m.counter("up_total", { help: "Up." }).inc();
  const serve = m.handler();
  const get = serve(new Request("http://x/metrics"));
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  assert.match(await get.text(), /^up_total 1$/m);
  const head = serve(new Request("http://x/metrics", { method: "HEAD" }));
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  const post = serve(new Request("http://x/metrics", { method: "POST" }));
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});
