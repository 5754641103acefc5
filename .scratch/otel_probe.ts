const g = (globalThis as any)[Symbol.for("opentelemetry.js.api.1")];
console.log("global before import:", g && Object.keys(g), g?.version);
const api = await import("@opentelemetry/api");
const tracer = api.trace.getTracer("probe");
const span = tracer.startSpan("x");
console.log("recording:", span.isRecording(), span.spanContext());
await api.context.with(api.trace.setSpan(api.context.active(), span), async () => {
  await new Promise((r) => setTimeout(r, 1));
  console.log("active after await:", api.trace.getActiveSpan()?.spanContext().spanId);
});
span.end();
console.log("propagation fields:", api.propagation.fields());
const carrier: Record<string,string> = {};
api.context.with(api.trace.setSpan(api.context.active(), span), () => api.propagation.inject(api.context.active(), carrier));
console.log("inject:", carrier);
