/**
 * The kit's middleware in front of a `Deno.serve` handler.
 *
 * @module
 */
import { type Exchange, type Middleware, nextOnce } from "./middleware.ts";

/** A `Deno.serve` handler. */
export type ServeHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

class ServeExchange implements Exchange<Deno.ServeHandlerInfo> {
  #body: Promise<Uint8Array<ArrayBuffer>> | undefined;

  constructor(public request: Request, readonly context: Deno.ServeHandlerInfo) {}

  body(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#body ??= this.#read();
  }

  async #read(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.request.body === null) return new Uint8Array();
    const bytes = new Uint8Array(await this.request.arrayBuffer());
    // The handler gets a request whose body is readable again.
    this.request = new Request(this.request, { body: bytes });
    return bytes;
  }

  route(): undefined {
    return undefined;
  }
}

/**
 * A `Deno.serve` handler that runs `middleware` in order, first to last, in front of `handler`.
 *
 * @param handler The application's handler.
 * @param middleware The kit's middleware (`rateLimitMiddleware`, `idempotencyMiddleware`,
 * `metrics.middleware()` …), outermost first.
 * @returns The handler to pass to `Deno.serve`.
 * @throws {TypeError} When `handler` or a middleware is not a function.
 *
 * @example
 * ```ts
 * import { serveHandler } from "./serve.ts";
 * import type { Middleware } from "./middleware.ts";
 * import assert from "node:assert/strict";
 *
 * const tagged: Middleware<Deno.ServeHandlerInfo> = async (_exchange, next) => {
 *   const response = await next();
 *   const headers = new Headers(response.headers);
 *   headers.set("x-tag", "kit");
 *   return new Response(response.body, { status: response.status, headers });
 * };
 * const handler = serveHandler(() => new Response("ok"), tagged);
 * const response = await handler(new Request("http://x/"), {} as Deno.ServeHandlerInfo);
 * assert.equal(response.headers.get("x-tag"), "kit");
 * assert.equal(await response.text(), "ok");
 * ```
 */
export function serveHandler(
  handler: ServeHandler,
  ...middleware: Middleware<Deno.ServeHandlerInfo>[]
): (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot create a handler as 'handler' must be a function: current value is ${
        String(handler)
      }`,
    );
  }
  middleware.forEach((item, i) => {
    if (typeof item !== "function") {
      throw new TypeError(
        `Cannot create a handler as middleware ${i} must be a function: current value is ${
          String(item)
        }`,
      );
    }
  });
  return (request, info) => {
    const exchange = new ServeExchange(request, info);
    const run = async (i: number): Promise<Response> =>
      i === middleware.length
        ? await handler(exchange.request, info)
        : await middleware[i](exchange, nextOnce(() => run(i + 1)));
    return run(0);
  };
}
