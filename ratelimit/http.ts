/**
 * Rate limiting for `Deno.serve` handlers: 429 with `Retry-After` and the
 * `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` headers.
 *
 * @module
 */
import type { RateLimiter } from "./mod.ts";
import type { Decision } from "./types.ts";

/** Options of {@linkcode rateLimitHandler}. */
export interface RateLimitHandlerOptions {
  /** The rule to apply. */
  readonly rule: string;
  /** The key of a request: a user id, an API key, the client address. */
  readonly key: (request: Request, info: Deno.ServeHandlerInfo) => string;
  /** Cost of a request. @default {() => 1} */
  readonly cost?: (request: Request) => number;
}

/** The part of a rate limiter the handler needs. */
export type Limiter = Pick<RateLimiter, "allowN">;

function headers(decision: Decision): Record<string, string> {
  return {
    "RateLimit-Limit": String(decision.limit),
    "RateLimit-Remaining": String(Math.max(0, decision.remaining)),
    "RateLimit-Reset": String(Math.ceil(decision.resetMs / 1000)),
  };
}

/**
 * Wraps a `Deno.serve` handler: requests over the limit get 429, the others
 * pass with `RateLimit-*` headers added to a copy of the response (the handler's own is never
 * changed; a `101` upgrade is passed on without them).
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
): (
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
) => (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  return (handler) => async (request, info) => {
    const decision = await limiter.allowN(
      options.key(request, info),
      options.rule,
      options.cost?.(request) ?? 1,
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
    return withHeaders(await handler(request, info), headers(decision));
  };
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
