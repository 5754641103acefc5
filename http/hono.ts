/**
 * The kit's middleware in a Hono application (Hono 4), without a dependency on Hono: the adapter
 * reads only the parts of Hono's `Context` named in {@linkcode HonoContext}.
 *
 * @module
 */
import { type Exchange, type Middleware, nextOnce } from "./middleware.ts";

/** A route Hono matched. */
export interface HonoRoute {
  /** The route's template, with the base path of a mounted sub-application. */
  readonly path: string;
}

/** The parts of Hono's `HonoRequest` the adapter uses. */
export interface HonoRequest {
  /** The request; the adapter replaces it with a readable copy once it read the body. */
  raw: Request;
  /** Index of the handler running now in {@linkcode HonoRequest.matchedRoutes}. */
  readonly routeIndex: number;
  /** Every middleware and handler the router matched, in order. */
  readonly matchedRoutes: readonly HonoRoute[];
  /** The body, cached by Hono for later readers. */
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** The parts of Hono's `Context` the adapter uses; a Hono `Context` is one. */
export interface HonoContext {
  /** The request. */
  readonly req: HonoRequest;
  /** The response so far; setting it replaces it. */
  res: Response;
}

/** Hono's `next`. */
export type HonoNext = () => Promise<void>;

class HonoExchange<C extends HonoContext> implements Exchange<C> {
  #body: Promise<Uint8Array<ArrayBuffer>> | undefined;

  constructor(readonly context: C) {}

  get request(): Request {
    return this.context.req.raw;
  }

  body(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#body ??= this.#read();
  }

  async #read(): Promise<Uint8Array<ArrayBuffer>> {
    const req = this.context.req;
    if (req.raw.body === null) return new Uint8Array();
    // Through Hono's cache, so c.req.json() and the like still work; raw is replaced by a readable
    // copy for handlers that read c.req.raw (as Hono's own body-limit middleware does).
    const bytes = new Uint8Array(await req.arrayBuffer());
    req.raw = new Request(req.raw, { body: bytes });
    return bytes;
  }

  route(): string | undefined {
    const req = this.context.req;
    return req.matchedRoutes[req.routeIndex]?.path;
  }
}

/**
 * A kit middleware as a Hono middleware, for `app.use()` or a route. The options' callbacks
 * receive Hono's `Context` (annotate it, `(request, c: Context) => c.get("user")`), and
 * `route()` is the template of the route that answered, so `metrics.middleware()` labels
 * `/rooms/:id/messages`, not each room's path.
 *
 * @param middleware A kit middleware.
 * @returns A Hono middleware handler.
 * @throws {TypeError} When `middleware` is not a function.
 *
 * @example
 * ```ts ignore
 * import { Hono, type Context } from "hono";
 * import { honoMiddleware } from "@gochat/kit/http";
 * import { rateLimitMiddleware } from "@gochat/kit/ratelimit";
 *
 * const app = new Hono<{ Variables: { user: string } }>();
 * app.use("/api/*", honoMiddleware(rateLimitMiddleware(limiter, {
 *   rule: "api",
 *   key: (_request, c: Context<{ Variables: { user: string } }>) => c.get("user"),
 * })));
 * ```
 */
export function honoMiddleware<C extends HonoContext>(
  middleware: Middleware<C>,
): (c: C, next: HonoNext) => Promise<Response> {
  if (typeof middleware !== "function") {
    throw new TypeError(
      `Cannot adapt a middleware to Hono as it must be a function: current value is ${
        String(middleware)
      }`,
    );
  }
  return async (c, next) => {
    const response = await middleware(
      new HonoExchange(c),
      nextOnce(async () => {
        await next();
        return c.res;
      }),
    );
    // Once next() ran, Hono ignores a returned response: it must be set.
    if (response !== c.res) c.res = response;
    return c.res;
  };
}
