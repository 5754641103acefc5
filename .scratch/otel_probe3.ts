const KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN = Symbol.for("OpenTelemetry Context Key SPAN");
const api = (globalThis as any)[KEY];
console.log("Deno.telemetry:", (Deno as any).telemetry && Object.keys((Deno as any).telemetry));
const tracer = api.trace.getTracer("probe");
const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
  console.log("incoming", req.headers.get("traceparent"));
  return new Response("ok");
});
const s2 = tracer.startSpan("outer");
console.log("outer", s2.spanContext());
await api.context.with(api.context.active().setValue(SPAN, s2), async () => {
  console.log("active in with:", api.context.active().getValue(SPAN)?.spanContext().spanId);
  const r2 = await fetch(`http://127.0.0.1:${server.addr.port}/y`); await r2.text();
});
await server.shutdown();
