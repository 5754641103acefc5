/**
 * HTTP plumbing shared by the kit's middleware (ratelimit's `rateLimitMiddleware`, once's
 * `idempotencyMiddleware`, `metrics.middleware()`): one framework-neutral shape,
 * {@linkcode Middleware}, and an adapter per framework: {@linkcode serveHandler} for `Deno.serve`,
 * {@linkcode honoMiddleware} for Hono.
 *
 * @example Under Deno.serve
 * ```ts
 * import { serveHandler } from "./mod.ts";
 * import { create, defaultConfig, rateLimitMiddleware } from "../ratelimit/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using limiter = await create({ ...defaultConfig("development"), rules: { api: { rate: 1, burst: 1 } } });
 * const handler = serveHandler(
 *   () => new Response("ok"),
 *   rateLimitMiddleware(limiter, { rule: "api", key: (_request, info) => (info.remoteAddr as Deno.NetAddr).hostname }),
 * );
 * const info = { remoteAddr: { transport: "tcp", hostname: "10.0.0.1", port: 1 } } as Deno.ServeHandlerInfo;
 * assert.equal((await handler(new Request("http://x/"), info)).status, 200);
 * assert.equal((await handler(new Request("http://x/"), info)).status, 429);
 * ```
 *
 * @module
 */
export type { Exchange, Middleware, Next } from "./middleware.ts";
export { tracedFetch, traceMiddleware, type TraceMiddlewareOptions } from "./trace.ts";
export { type ServeHandler, serveHandler } from "./serve.ts";
export {
  type HonoContext,
  honoMiddleware,
  type HonoNext,
  type HonoRequest,
  type HonoRoute,
} from "./hono.ts";
