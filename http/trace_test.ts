/** traceMiddleware and tracedFetch: one trace across HTTP, with and without an OpenTelemetry SDK. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import * as clog from "../clog/mod.ts";
import { recordSpans } from "../testing/otel.ts";
import { honoMiddleware, serveHandler, tracedFetch, traceMiddleware } from "./mod.ts";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";
const info = {} as Deno.ServeHandlerInfo;

Deno.test("traceMiddleware without an SDK: the handler runs in the caller's trace and the response names it", async () => {
  const seen: (clog.TraceContext | undefined)[] = [];
  const handler = serveHandler(() => {
    seen.push(clog.traceContext());
    return new Response("ok");
  }, traceMiddleware());
  const w3c = await handler(
    new Request("http://x/", { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } }),
    info,
  );
  assert.equal(seen[0]?.traceId, TRACE);
  assert.match(seen[0]?.spanId ?? "", /^[0-9a-f]{16}$/);
  assert.notEqual(seen[0]?.spanId, PARENT, "the server's work has a span id of its own");
  assert.equal(w3c.headers.get("traceresponse"), `00-${TRACE}-${seen[0]?.spanId}-01`);
  assert.equal(w3c.headers.get("X-Trace-ID"), TRACE);

  const go = await handler(
    new Request("http://x/", { headers: { "x-trace-id": "go-req-9" } }),
    info,
  );
  assert.equal(seen[1]?.traceId, "go-req-9", "the Go kit's header");
  assert.equal(go.headers.get("X-Trace-ID"), "go-req-9");
  assert.equal(go.headers.get("traceresponse"), null, "no W3C id to answer with");

  const fresh = await handler(new Request("http://x/"), info);
  assert.match(seen[2]?.traceId ?? "", /^[0-9a-f]{32}$/, "a request without a trace starts one");
  assert.equal(fresh.headers.get("X-Trace-ID"), seen[2]?.traceId);
});

Deno.test("traceMiddleware leaves a response it did not make unchanged and lets a WebSocket upgrade through", async () => {
  const immutable = Response.redirect("http://x/elsewhere", 302);
  const handler = serveHandler(() => immutable, traceMiddleware());
  const response = await handler(new Request("http://x/"), info);
  assert.notEqual(response, immutable, "a copy");
  assert.equal(immutable.headers.get("X-Trace-ID"), null);
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "http://x/elsewhere");
  assert.match(response.headers.get("X-Trace-ID") ?? "", /^[0-9a-f]{32}$/);

  const traced: (string | undefined)[] = [];
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    serveHandler((request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      const trace = clog.traceId();
      socket.onmessage = (event) => {
        traced.push(trace);
        socket.send(`echo ${event.data}`);
      };
      return response;
    }, traceMiddleware()),
  );
  const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/ws`);
  const reply = await new Promise<string>((resolve, reject) => {
    socket.onopen = () => socket.send("hi");
    socket.onmessage = (event) => resolve(event.data);
    socket.onerror = () => reject(new Error("the upgrade failed"));
  });
  assert.equal(reply, "echo hi");
  assert.match(traced[0] ?? "", /^[0-9a-f]{32}$/);
  socket.close();
  await new Promise((resolve) => (socket.onclose = resolve));
});

Deno.test("traceMiddleware with an SDK: a server span, child of the caller's, named after Hono's route", async () => {
  using recorder = recordSpans();
  const app = new Hono();
  app.use(honoMiddleware(traceMiddleware()));
  const inside: (clog.TraceContext | undefined)[] = [];
  app.get("/rooms/:id/messages", (c) => {
    inside.push(clog.traceContext());
    return c.text("ok");
  });
  app.get("/boom", () => {
    throw new Error("boom");
  });
  const response = await app.request("/rooms/7/messages", {
    headers: { traceparent: `00-${TRACE}-${PARENT}-01` },
  });
  const [span] = recorder.spans;
  assert.equal(span.name, "GET /rooms/:id/messages");
  assert.equal(span.kind, 1, "server");
  assert.equal(span.traceId, TRACE);
  assert.equal(span.parentSpanId, PARENT);
  assert.ok(span.ended);
  assert.equal(span.attributes["http.route"], "/rooms/:id/messages");
  assert.equal(span.attributes["http.request.method"], "GET");
  assert.equal(span.attributes["url.path"], "/rooms/7/messages");
  assert.equal(span.attributes["http.response.status_code"], 200);
  assert.deepEqual(
    inside[0],
    { traceId: TRACE, spanId: span.spanId },
    "logs inside carry the span",
  );
  assert.equal(response.headers.get("traceresponse"), `00-${TRACE}-${span.spanId}-01`);

  assert.equal((await app.request("/boom")).status, 500);
  const failed = recorder.named("GET /boom")[0];
  assert.equal(failed.status.code, 2);
  assert.notEqual(failed.traceId, TRACE, "no caller: a trace of its own");
});

Deno.test("traceMiddleware with an SDK names the runtime's server span instead of making a second", async () => {
  using recorder = recordSpans();
  const runtime = recorder.startSpan("GET", 1);
  const app = new Hono();
  app.use(honoMiddleware(traceMiddleware()));
  app.get("/users/:id", (c) => c.text("ok"));
  const response = await recorder.runIn(runtime, () => app.request("/users/1"));
  assert.equal(recorder.spans.length, 1);
  assert.equal(runtime.name, "GET /users/:id");
  assert.equal(runtime.attributes["http.route"], "/users/:id");
  assert.equal(response.headers.get("X-Trace-ID"), runtime.traceId);
});

function echoServer(): Deno.HttpServer<Deno.NetAddr> & { seen: Headers[] } {
  const seen: Headers[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    seen.push(request.headers);
    return new Response(request.url.endsWith("/missing") ? "no" : "ok", {
      status: request.url.endsWith("/missing") ? 404 : 200,
    });
  });
  return Object.assign(server, { seen });
}

Deno.test("tracedFetch without an SDK writes clog's trace into the request", async () => {
  await using server = echoServer();
  await clog.withTrace(TRACE, async () => {
    await (await tracedFetch(`http://127.0.0.1:${server.addr.port}/a`)).text();
  });
  await (await tracedFetch(`http://127.0.0.1:${server.addr.port}/b`, {
    headers: { "x-other": "kept" },
  })).text();
  assert.match(
    server.seen[0].get("traceparent") ?? "",
    new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`),
  );
  assert.equal(server.seen[0].get("x-trace-id"), TRACE);
  assert.equal(server.seen[1].get("traceparent"), null, "outside a trace, nothing");
  assert.equal(server.seen[1].get("x-other"), "kept");
});

Deno.test("tracedFetch with an SDK: a client span whose context the called service receives", async () => {
  using recorder = recordSpans();
  await using server = echoServer();
  const parent = recorder.startSpan("job");
  await recorder.runIn(parent, async () => {
    await (await tracedFetch(`http://user:secret@127.0.0.1:${server.addr.port}/a?token=t`)).text();
    await (await tracedFetch(`http://127.0.0.1:${server.addr.port}/missing`)).text();
  });
  const [ok, missing] = recorder.named("GET");
  assert.equal(ok.kind, 2, "client");
  assert.equal(ok.parentSpanId, parent.spanId);
  assert.equal(ok.attributes["url.full"], `http://127.0.0.1:${server.addr.port}/a`);
  assert.equal(ok.attributes["server.port"], server.addr.port);
  assert.equal(ok.attributes["http.response.status_code"], 200);
  assert.equal(server.seen[0].get("traceparent"), `00-${parent.traceId}-${ok.spanId}-01`);
  assert.equal(server.seen[0].get("x-trace-id"), parent.traceId);
  assert.equal(missing.status.code, 2, "a 404 is a failed call");
});
