import assert from "node:assert/strict";
import { create, defaultConfig } from "./mod.ts";
import { rateLimitHandler } from "./http.ts";

type Handler = (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;

/** Serves `handler` behind the rate limiter on a local port, as an application would. */
async function serveLimited(handler: Handler) {
  const limiter = await create({
    ...defaultConfig("development"),
    rules: { api: { rate: 100, burst: 100 } },
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    rateLimitHandler(limiter, { rule: "api", key: () => "client" })(handler),
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
      await limiter.close();
    },
  };
}

Deno.test("a redirect (immutable headers) gets the RateLimit headers, not a 500", async () => {
  await using front = await serveLimited(() => Response.redirect("http://example.test/next", 302));
  const response = await fetch(front.url, { redirect: "manual" });
  await response.body?.cancel();
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "http://example.test/next");
  assert.equal(response.headers.get("ratelimit-limit"), "100");
  assert.equal(response.headers.get("ratelimit-remaining"), "99");
});

Deno.test("a proxied fetch() response (immutable headers) gets the RateLimit headers, not a 500", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("from upstream", { status: 202, headers: { "x-upstream": "yes" } }),
  );
  try {
    await using front = await serveLimited(() => fetch(`http://127.0.0.1:${upstream.addr.port}/`));
    const response = await fetch(front.url);
    assert.equal(response.status, 202);
    assert.equal(await response.text(), "from upstream");
    assert.equal(response.headers.get("x-upstream"), "yes");
    assert.equal(response.headers.get("ratelimit-limit"), "100");
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("a streaming body still streams: the first chunk arrives before the last is written", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const encoder = new TextEncoder();
  await using front = await serveLimited(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode("first;"));
          await gate;
          controller.enqueue(encoder.encode("second"));
          controller.close();
        },
      }),
    )
  );
  const firstChunk = (async () => {
    const response = await fetch(front.url);
    assert.equal(response.headers.get("ratelimit-limit"), "100");
    const reader = response.body!.getReader();
    return { reader, first: await reader.read() };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const early = await Promise.race([
    firstChunk,
    new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), 2_000))),
  ]);
  clearTimeout(timer);
  // The rest is written only now, so a helper that read the whole body first would have timed out.
  release();
  const { reader, first } = await firstChunk;
  assert.notEqual(early, "timeout", "the first chunk waited for the whole body");
  let text = new TextDecoder().decode(first.value);
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    text += new TextDecoder().decode(chunk.value);
  }
  assert.equal(text, "first;second");
});

Deno.test("a WebSocket upgrade (101) is passed on untouched", async () => {
  const serverClosed = Promise.withResolvers<void>();
  await using front = await serveLimited((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(`echo ${event.data}`);
    socket.onclose = () => serverClosed.resolve();
    return response;
  });
  const client = new WebSocket(front.url.replace("http:", "ws:"));
  const reply = Promise.withResolvers<string>();
  const clientClosed = Promise.withResolvers<void>();
  client.onopen = () => client.send("hi");
  client.onmessage = (event) => reply.resolve(String(event.data));
  client.onerror = () => reply.reject(new Error("the upgrade failed"));
  client.onclose = () => clientClosed.resolve();
  try {
    assert.equal(await reply.promise, "echo hi");
  } finally {
    client.close();
    await clientClosed.promise;
    await serverClosed.promise;
  }
});

Deno.test("the handler's own response is left unchanged, and its own RateLimit headers win", async () => {
  await using limiter = await create({
    ...defaultConfig("development"),
    rules: { api: { rate: 100, burst: 100 } },
  });
  const own = new Response("ok", { headers: { "RateLimit-Limit": "7" } });
  const handler = rateLimitHandler(limiter, { rule: "api", key: () => "client" })(() => own);
  const response = await handler(new Request("http://x/"), {} as Deno.ServeHandlerInfo);
  assert.notEqual(response, own);
  assert.equal(own.headers.get("ratelimit-remaining"), null);
  assert.equal(response.headers.get("ratelimit-limit"), "7");
  assert.equal(response.headers.get("ratelimit-remaining"), "99");
  assert.equal(await response.text(), "ok");
});

Deno.test("a response that cannot be constructed again (Response.error()) is passed on as it is", async () => {
  await using limiter = await create({
    ...defaultConfig("development"),
    rules: { api: { rate: 100, burst: 100 } },
  });
  const failed = Response.error();
  const handler = rateLimitHandler(limiter, { rule: "api", key: () => "client" })(() => failed);
  assert.equal(await handler(new Request("http://x/"), {} as Deno.ServeHandlerInfo), failed);
});
