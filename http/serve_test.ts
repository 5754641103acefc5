import assert from "node:assert/strict";
import { type Middleware, serveHandler } from "./mod.ts";

const info = {} as Deno.ServeHandlerInfo;

Deno.test("serveHandler: middleware runs outermost first; the body a middleware read reaches the handler", async () => {
  const order: string[] = [];
  const trace = (name: string): Middleware<Deno.ServeHandlerInfo> => async (exchange, next) => {
    order.push(`${name}:${new TextDecoder().decode(await exchange.body())}`);
    const response = await next();
    order.push(`${name}:done`);
    return response;
  };
  const handler = serveHandler(
    async (request) => new Response(`handler:${await request.text()}`),
    trace("a"),
    trace("b"),
  );
  const post = new Request("http://x/", { method: "POST", body: "payload" });
  assert.equal(await (await handler(post, info)).text(), "handler:payload");
  assert.deepEqual(order, ["a:payload", "b:payload", "b:done", "a:done"]);
  // A request without a body, and a POST with an empty one.
  assert.equal(await (await handler(new Request("http://x/"), info)).text(), "handler:");
  const empty = new Request("http://x/", { method: "POST", body: "" });
  assert.equal(await (await handler(empty, info)).text(), "handler:");
});

Deno.test("serveHandler: next() twice is refused; a non-function is refused at creation", async () => {
  const twice: Middleware<Deno.ServeHandlerInfo> = async (_exchange, next) => {
    await next();
    return await next();
  };
  let calls = 0;
  const handler = serveHandler(() => new Response(String(++calls)), twice);
  await assert.rejects(handler(new Request("http://x/"), info), /called next\(\) twice/);
  assert.equal(calls, 1);
  assert.throws(
    () => serveHandler(() => new Response(), "nope" as unknown as Middleware<unknown>),
    /middleware 0 must be a function: current value is nope/,
  );
  assert.throws(
    () => serveHandler(undefined as never),
    /'handler' must be a function/,
  );
});
