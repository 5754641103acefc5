const KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN = Symbol.for("OpenTelemetry Context Key SPAN");
const api = (globalThis as any)[KEY];
console.log("logs api:", typeof (globalThis as any)[Symbol.for("io.opentelemetry.js.api.logs")]);
const tracer = api.trace.getTracer("probe");
const remote = { spanContext: () => ({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1, isRemote: true }), isRecording: () => false };
const ctx = api.context.active().setValue(SPAN, remote);
const child = tracer.startSpan("child", {}, ctx);
console.log("child of fake:", child.spanContext().traceId, (child as any).parentSpanId ?? Object.keys(child));
// active context inside Deno.serve handler
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
  const s = api.context.active().getValue(SPAN);
  console.log("in handler: active span", s?.spanContext(), "incoming", req.headers.get("traceparent"));
  return new Response("ok");
});
const r = await fetch(`http://127.0.0.1:${server.addr.port}/x`, { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
await r.text();
// fetch inside a span: does deno inject?
const s2 = tracer.startSpan("outer");
await api.context.with(api.context.active().setValue(SPAN, s2), async () => {
  const r2 = await fetch(`http://127.0.0.1:${server.addr.port}/y`); await r2.text();
});
console.log("outer", s2.spanContext().spanId);
await server.shutdown();
