/**
 * One trace from the HTTP request to the consumer, exported by Deno's built-in OpenTelemetry SDK
 * (`OTEL_DENO=true`) over OTLP/HTTP (JSON) to a receiver in this test: a request through the
 * kit's trace middleware writes to PostgreSQL, caches in Redis and publishes to mq (Redis
 * Streams); a second process consumes it. Spans, their parents and kinds, and the log records of
 * both processes are checked.
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../testing/keyspace.ts";
import { serviceUrl } from "../testing/services.ts";
import { eventually } from "../testing/eventually.ts";

interface Attribute {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}
interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: Attribute[];
  startTimeUnixNano?: string;
  service: string;
}
interface Log {
  traceId?: string;
  spanId?: string;
  severityNumber?: number;
  body?: { stringValue?: string };
  service: string;
}

/** OTLP's span kinds: one more than the API's. */
const KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 };
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER = "00f067aa0ba902b7";

const attr = (span: Span, key: string) => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue ?? value?.boolValue ?? value?.doubleValue;
};
const serviceOf = (resource: { attributes?: Attribute[] }) =>
  resource.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "";

const KIND_NAMES = ["", "internal", "server", "client", "producer", "consumer"];

/** The spans under `parent`, one per line, indented by depth, children in start order. */
function spanTree(spans: Span[], parent: string, depth = 0): string {
  return spans
    .filter((span) => span.parentSpanId === parent)
    .sort((a, b) => Number(BigInt(a.startTimeUnixNano ?? 0) - BigInt(b.startTimeUnixNano ?? 0)))
    .map((span) =>
      `${"  ".repeat(depth)}${span.name} (${KIND_NAMES[span.kind]}, ${span.service})\n` +
      spanTree(spans, span.spanId, depth + 1)
    )
    .join("");
}

function receiver() {
  const spans: Span[] = [];
  const logs: Log[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const path = new URL(request.url).pathname;
    const body = path === "/v1/traces" || path === "/v1/logs" ? await request.json() : undefined;
    if (body === undefined) await request.body?.cancel();
    for (const resource of body?.resourceSpans ?? []) {
      for (const scope of resource.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          spans.push({ ...span, service: serviceOf(resource.resource) });
        }
      }
    }
    for (const resource of body?.resourceLogs ?? []) {
      for (const scope of resource.scopeLogs ?? []) {
        for (const log of scope.logRecords ?? []) {
          logs.push({ ...log, service: serviceOf(resource.resource) });
        }
      }
    }
    return Response.json({});
  });
  return { spans, logs, server };
}

/** Lines of a child's stdout, as they come. */
function linesOf(child: Deno.ChildProcess) {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  return {
    async until(pattern: RegExp): Promise<RegExpMatchArray> {
      for (;;) {
        const match = text.match(pattern);
        if (match) return match;
        const chunk = await reader.read();
        if (chunk.done) throw new Error(`ended before ${pattern}:\n${text}`);
        text += chunk.value;
      }
    },
  };
}

const redisUrl = serviceUrl("redis");
const postgresUrl = serviceUrl("postgres");

Deno.test({
  name:
    "[redis] [postgres] tracing: one request, one trace — HTTP server, db, cache, mq producer, consumer in a second process, and their logs",
  ignore: redisUrl === undefined || postgresUrl === undefined,
  async fn() {
    const { spans, logs, server } = receiver();
    const topic = testKeyspace("otel e2e").replace(/[^a-zA-Z0-9._-]+/g, ".").replace(/\.+$/, "");
    const table = `otel_e2e_${crypto.randomUUID().slice(0, 8)}`;
    const spawn = (role: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          new URL("./testdata/otel_service.ts", import.meta.url).pathname,
          role,
          topic,
          table,
        ],
        env: {
          OTEL_DENO: "true",
          OTEL_DENO_CONSOLE: "replace",
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${server.addr.port}`,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          OTEL_SERVICE_NAME: `kit-${role}`,
          KIT_REDIS_URL: redisUrl!,
          KIT_POSTGRES_URL: postgresUrl!,
        },
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
    const consumer = spawn("consumer");
    const api = spawn("api");
    try {
      await linesOf(consumer).until(/^ready$/m);
      const port = (await linesOf(api).until(/^listening (\d+)$/m))[1];
      const response = await fetch(`http://127.0.0.1:${port}/rooms/7/messages`, {
        method: "POST",
        headers: { traceparent: `00-${TRACE}-${CALLER}-01`, "content-type": "application/json" },
        body: JSON.stringify({ text: "你好, world" }),
      });
      assert.equal(response.status, 201, await response.text());
      assert.match(
        response.headers.get("traceresponse") ?? "",
        new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`),
      );
      assert.equal((await consumer.status).code, 0);
      assert.equal((await api.status).code, 0);
      await eventually(() => {
        assert.ok(
          spans.some((span) => span.kind === KIND.CONSUMER && span.traceId === TRACE),
          "consumer span exported",
        );
        assert.ok(
          logs.some((log) => log.body?.stringValue?.includes("message handled")),
          "consumer log exported",
        );
      }, { timeoutMs: 10_000 });

      const trace = spans.filter((span) => span.traceId === TRACE);
      console.log(spanTree(trace, CALLER)); // the README's tracing section shows this tree
      const byId = new Map(trace.map((span) => [span.spanId, span]));
      const one = (what: string, test: (span: Span) => boolean) => {
        const found = trace.filter(test);
        assert.equal(
          found.length,
          1,
          `${what}: ${JSON.stringify(trace.map((s) => [s.name, s.kind, s.service]))}`,
        );
        return found[0];
      };
      const root = one("server span", (span) => span.kind === KIND.SERVER);
      assert.equal(root.parentSpanId, CALLER, "child of the caller's span");
      assert.equal(root.name, "POST /rooms/:id/messages");
      assert.equal(attr(root, "http.route"), "/rooms/:id/messages");
      assert.equal(root.service, "kit-api");
      const underRoot = (span: Span) => {
        for (let at = span; at.parentSpanId; at = byId.get(at.parentSpanId)!) {
          if (at.parentSpanId === root.spanId) return true;
          if (!byId.has(at.parentSpanId)) return false;
        }
        return false;
      };
      const insert = one(
        "db insert",
        (span) => span.kind === KIND.CLIENT && /INSERT/.test(String(attr(span, "db.statement"))),
      );
      assert.equal(attr(insert, "db.system"), "postgresql");
      assert.ok(underRoot(insert), "the insert is part of the request");
      assert.ok(
        !String(attr(insert, "db.statement")).includes("你好"),
        "no values in the statement",
      );
      const cached = one(
        "cache set",
        (span) => span.kind === KIND.CLIENT && attr(span, "db.system") === "redis",
      );
      assert.ok(underRoot(cached));
      const send = one("producer span", (span) => span.kind === KIND.PRODUCER);
      assert.equal(send.name, `send ${topic}`);
      assert.ok(underRoot(send));
      const processed = one("consumer span", (span) => span.kind === KIND.CONSUMER);
      assert.equal(processed.service, "kit-consumer");
      assert.equal(
        processed.parentSpanId,
        send.spanId,
        "the consumer continues from the producer, across Redis",
      );
      assert.equal(attr(processed, "messaging.consumer.group.name"), "e2e");

      const stored = logs.find((log) => log.body?.stringValue?.includes("message stored"));
      assert.equal(stored?.service, "kit-api");
      assert.equal(stored?.traceId, TRACE);
      assert.equal(stored?.spanId, root.spanId, "logged in the request's span");
      assert.equal(stored?.severityNumber, 9);
      const handled = logs.find((log) => log.body?.stringValue?.includes("message handled"));
      assert.equal(handled?.traceId, TRACE);
      assert.equal(handled?.spanId, processed.spanId, "logged in the consumer's span");
      // The line itself (clog's JSON) names the same ids: one context, not two.
      const line = JSON.parse(handled!.body!.stringValue!);
      assert.equal(line.trace_id, TRACE);
      assert.equal(line.span_id, processed.spanId);
    } finally {
      for (const child of [consumer, api]) {
        try {
          child.kill("SIGKILL");
        } catch {
          // ended
        }
        await child.status;
      }
      await server.shutdown();
    }
  },
});
