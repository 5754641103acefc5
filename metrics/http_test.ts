import assert from "node:assert/strict";
import { capturingLogger } from "../testing/logger.ts";
import * as metrics from "./mod.ts";

/** A provider on the memory driver; its warnings are captured, not printed. */
function registry() {
  const { logger } = capturingLogger();
  return { create: () => metrics.create(metrics.defaultConfig("development"), { logger }) };
}

Deno.test("http() counts and times requests by method, route and status, ids folded to :id", async () => {
  await using m = await registry().create();
  const info = {} as Deno.ServeHandlerInfo;
  const app = m.http((request) => {
    if (request.url.endsWith("/boom")) throw new Error("boom");
    return new Response("ok", { status: request.method === "POST" ? 201 : 200 });
  });
  for (const id of [42, 43]) await (await app(new Request(`http://x/users/${id}`), info)).text();
  await (await app(
    new Request("http://x/orders/0b6f1c1e-7d5a-4a8e-9a55-3f1d0c2b7e10", { method: "POST" }),
    info,
  )).text();
  await assert.rejects(async () => await app(new Request("http://x/boom"), info), /boom/);
  const text = m.render() ?? "";
  assert.match(text, /http_requests_total\{method="GET",route="\/users\/:id",status="200"\} 2\n/);
  assert.match(text, /http_requests_total\{method="POST",route="\/orders\/:id",status="201"\} 1\n/);
  assert.match(text, /http_requests_total\{method="GET",route="\/boom",status="500"\} 1\n/);
  assert.match(
    text,
    /http_request_duration_seconds_count\{method="GET",route="\/users\/:id",status="200"\} 2\n/,
  );
  await (await app(new Request("http://x/wp-admin/scan-1"), info)).text();
  const missing = m.http(() => new Response("no", { status: 404 }));
  for (const path of ["/a", "/b", "/c"]) {
    await (await missing(new Request(`http://x${path}`), info)).text();
  }
  assert.match(
    m.render() ?? "",
    /http_requests_total\{method="GET",route="\(not found\)",status="404"\} 3\n/,
    "404s share one route label",
  );
  const broken = m.http(() => new Response("fine"), {
    route: () => {
      throw new Error("no route");
    },
  });
  assert.equal(await (await broken(new Request("http://x/y"), info)).text(), "fine");
  assert.match(m.render() ?? "", /route="\(unknown\)",status="200"\} 1\n/);
  const custom = m.http(() => new Response("ok"), { route: () => "/custom" });
  await (await custom(new Request("http://x/anything/at/all"), info)).text();
  assert.match(m.render() ?? "", /route="\/custom",status="200"\} 1\n/);
});
