/**
 * The kit's framework-neutral middleware shape, which the HTTP helpers of ratelimit, once and
 * metrics are written in; an adapter runs it in a framework.
 *
 * @module
 */

/** One request as a kit middleware sees it, whatever the framework. */
export interface Exchange<C> {
  /**
   * The request. Read its body only through {@linkcode Exchange.body}: reading it here would
   * leave nothing for the handler.
   */
  readonly request: Request;
  /**
   * The framework's own context: `Deno.ServeHandlerInfo` under `Deno.serve`, Hono's `Context`
   * under Hono. The middleware's options receive it (a rate-limit key read from the user the
   * framework's auth middleware set, say).
   */
  readonly context: C;
  /** The body, read once and kept: the handler after the middleware can still read it. */
  body(): Promise<Uint8Array<ArrayBuffer>>;
  /**
   * The router's template of the route that answered (`/rooms/:id/messages`), known once `next()`
   * returned; undefined where the framework has no router (`Deno.serve`).
   */
  route(): string | undefined;
}

/** Runs the rest of the chain (later middleware, then the handler) and gives its response. */
export type Next = () => Promise<Response>;

/**
 * A middleware: answers by itself (a 429, a replayed response) or calls `next()` and returns its
 * response or a new one. It never changes the response `next()` gave: that one may have immutable
 * headers (`Response.redirect()`, a proxied `fetch()`).
 *
 * @typeParam C The framework's context type.
 */
export type Middleware<C> = (exchange: Exchange<C>, next: Next) => Promise<Response>;

/** `next()` of one middleware call, refusing a second call. */
export function nextOnce(next: () => Promise<Response>): Next {
  let called = false;
  return () => {
    if (called) return Promise.reject(new Error("A middleware called next() twice"));
    called = true;
    return next();
  };
}
