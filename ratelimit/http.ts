/**
 * Rate limiting as HTTP middleware: 429 with `Retry-After` and the `RateLimit-Limit`,
 * `RateLimit-Remaining` and `RateLimit-Reset` headers. {@linkcode rateLimitMiddleware} fits any
 * framework through `@gochat/kit/http`; {@linkcode rateLimitHandler} wraps a `Deno.serve` handler.
 *
 * @module
 */
import type { Middleware } from "../http/middleware.ts";
import { type ServeHandler, serveHandler } from "../http/serve.ts";
import type { RateLimiter } from "./mod.ts";
import type { Decision } from "./types.ts";

/**
 * Options of {@linkcode rateLimitMiddleware}.
 *
 * @typeParam C The framework's context: `Deno.ServeHandlerInfo`, Hono's `Context` …
 */
export interface RateLimitMiddlewareOptions<C> {
  /** The rule to apply. */
  readonly rule: string;
  /** The key of a request: a user id, an API key, the client address. */
  readonly key: (request: Request, context: C) => string | Promise<string>;
  /** Cost of a request. @default {() => 1} */
  readonly cost?: (request: Request, context: C) => number;
}

/** Options of {@linkcode rateLimitHandler}. */
export type RateLimitHandlerOptions = RateLimitMiddlewareOptions<Deno.ServeHandlerInfo>;

/** The part of a rate limiter the middleware needs. */
export type Limiter = Pick<RateLimiter, "allowN">;

function headers(decision: Decision): Record<string, string> {
  return {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(Math.max(0, decision.remaining)),
    "RateLimit-Reset": String(Math.ceil(decision.resetMs / 1000)),
  };
}

/**
 * A middleware that answers requests over the limit with 429 and passes the others with
 * `RateLimit-*` headers added to a copy of the response (the handler's own is never changed; a
 * `101` upgrade is passed on without them).
 *
 * @param limiter A rate limiter.
 * @param options Rule, key and cost of a request; `key` and `cost` get the framework's context.
 * @returns A middleware for `serveHandler` or `honoMiddleware` (`@gochat/kit/http`).
 * @throws {TypeError} When `rule` is not a string or `key` / `cost` not a function.
 *
 * @example Keyed by the user a Hono auth middleware set
 * ```ts ignore
 * app.use("/api/*", honoMiddleware(rateLimitMiddleware(limiter, {
 *   rule: "api",
 *   key: (_request, c: Context<{ Variables: { user: string } }>) => c.get("user"),
 * })));
 * ```
 */
export function rateLimitMiddleware<C>(
  limiter: Limiter,
  options: RateLimitMiddlewareOptions<C>,
): Middleware<C> {
  const { rule, key, cost } = options ?? {};
  if (typeof rule !== "string") {
    throw new TypeError(
      `Cannot create rateLimitMiddleware as 'rule' must be a string: current value is ${
        String(rule)
      }`,
    );
  }
  for (const [field, value] of [["key", key], ["cost", cost ?? (() => 1)]] as const) {
    if (typeof value !== "function") {
      throw new TypeError(
        `Cannot create rateLimitMiddleware as '${field}' must be a function: current value is ${
          String(value)
        }`,
      );
    }
  }
  return async ({ request, context }, next) => {
    const decision = await limiter.allowN(
      await key(request, context),
      rule,
      cost?.(request, context) ?? 1,
    );
    if (!decision.allowed) {
      return new Response("Too Many Requests\n", {
        status: 429,
        headers: {
          ...headers(decision),
          "Retry-After": String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))),
        },
      });
    }
    return withHeaders(await next(), headers(decision));
  };
}

/**
 * Wraps a `Deno.serve` handler in {@linkcode rateLimitMiddleware}.
 *
 * @param limiter A rate limiter.
 * @param options Rule, key and cost of a request.
 * @returns A function that wraps a handler.
 *
 * @example
 * ```ts
 * import { rateLimitHandler } from "./http.ts";
 * import { create } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using limiter = await create({ rules: { api: { rate: 1, burst: 1 } }, unknownRule: "deny", failPolicy: "open" });
 * const handler = rateLimitHandler(limiter, { rule: "api", key: () => "client" })(() => new Response("ok"));
 * const info = { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 1 } } as Deno.ServeHandlerInfo;
 * assert.equal((await handler(new Request("http://x/"), info)).status, 200);
 * const limited = await handler(new Request("http://x/"), info);
 * assert.equal(limited.status, 429);
 * assert.ok(Number(limited.headers.get("Retry-After")) >= 1);
 * ```
 */
export function rateLimitHandler(
  limiter: Limiter,
  options: RateLimitHandlerOptions,
): (handler: ServeHandler) => (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  const middleware = rateLimitMiddleware(limiter, options);
  return (handler) => serveHandler(handler, middleware);
}

/**
 * The handler's response with `extra` headers (those it did not set itself), as a new Response:
 * the handler's may have immutable headers (`Response.redirect()`, a proxied `fetch()`). The body
 * stream moves over unread, so it still streams.
 */
function withHeaders(response: Response, extra: Record<string, string>): Response {
  // A 101 upgrade (Deno.upgradeWebSocket) is handed back as it is; Response.error() (status 0)
  // cannot be constructed again.
  if (response.status < 200 || response.status > 599) return response;
  const merged = new Headers(response.headers);
  for (const [name, value] of Object.entries(extra)) {
    if (!merged.has(name)) merged.set(name, value);
  }
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: merged,
  });
}
