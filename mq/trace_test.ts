/** Trace continuity with the Go services on one topic: both headers written, either read. */
import assert from "node:assert/strict";
import { traceContext, withTrace } from "../clog/mod.ts";
import * as mq from "./mod.ts";
import { traceHeaders, traceOf } from "./trace.ts";

const W3C = "4bf92f3577b34da6a3ce929d0e0e4736";

Deno.test("the producer writes traceparent and the Go kit's X-Trace-ID; a non-W3C id only the latter", async () => {
  await withTrace(W3C, () => {
    const headers = traceHeaders();
    assert.match(headers.traceparent, new RegExp(`^00-${W3C}-[0-9a-f]{16}-01$`));
    assert.equal(headers["X-Trace-ID"], W3C);
    return Promise.resolve();
  });
  await withTrace("go-req-7f3a", () => {
    assert.deepEqual({ ...traceHeaders() }, { "X-Trace-ID": "go-req-7f3a" });
    return Promise.resolve();
  });
  assert.deepEqual({ ...traceHeaders() }, {}, "nothing outside a trace");
});

Deno.test("the consumer reads traceparent first, else X-Trace-ID, whatever the header's case", () => {
  assert.equal(traceOf({ "X-Trace-ID": "go-req-1" })?.traceId, "go-req-1");
  assert.equal(traceOf({ "x-trace-id": "go-req-2" })?.traceId, "go-req-2");
  assert.equal(traceOf({ "X-TRACE-ID": " go-req-3 " })?.traceId, "go-req-3");
  const both = traceOf({ Traceparent: `00-${W3C}-00f067aa0ba902b7-01`, "X-Trace-ID": "other" });
  assert.equal(both?.traceId, W3C);
  assert.match(both?.spanId ?? "", /^[0-9a-f]{16}$/);
  assert.equal(traceOf({ traceparent: "garbage", "X-Trace-ID": "go-req-4" })?.traceId, "go-req-4");
  assert.equal(traceOf({ unrelated: "x" }), undefined);
});

Deno.test("a message from a Go producer (X-Trace-ID only) is handled inside that trace", async () => {
  await using queue = await mq.create(mq.defaultConfig("development"));
  const seen: (string | undefined)[] = [];
  await using _subscription = await queue.consumer("g").subscribe<string>(["events"], () => {
    seen.push(traceContext()?.traceId);
  });
  await queue.producer().sendSync({
    topic: "events",
    value: "from go",
    headers: { "X-Trace-ID": "go-req-9" },
  });
  const deadline = Date.now() + 5000;
  while (seen.length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.deepEqual(seen, ["go-req-9"]);
});
