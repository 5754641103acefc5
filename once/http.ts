/**
 * The `Idempotency-Key` header as HTTP middleware: 400 when required and
 * missing, 409 while the first request with the key is in progress, 422 when
 * the key is reused with another payload, and the stored response replayed otherwise.
 * Keys are scoped to the caller, and transient failures are not stored.
 * {@linkcode idempotencyMiddleware} fits any framework through `@gochat/kit/http`;
 * {@linkcode idempotencyHandler} wraps a `Deno.serve` handler.
 *
 * @module
 */
import type { Middleware } from "../http/middleware.ts";
import { type ServeHandler, serveHandler } from "../http/serve.ts";
import type { Once } from "./mod.ts";

/**
 * Options of {@linkcode idempotencyMiddleware}.
 *
 * @typeParam C The framework's context: `Deno.ServeHandlerInfo`, Hono's `Context` …
 */
export interface IdempotencyMiddlewareOptions<C> {
  /** How long a response is replayed. */
  readonly ttlMs: number;
  /**
   * Reject requests without the header with 400.
   * @default {true}
   */
  readonly required?: boolean;
  /**
   * The header carrying the key.
   * @default {"Idempotency-Key"}
   */
  readonly header?: string;
  /**
   * Who the key belongs to (a user, tenant or API key): a request with the same key and another
   * scope runs on its own and never sees another scope's response. Only a SHA-256 digest of the
   * string goes into the stored key, so it may be a credential. It must not read the body (the
   * handler reads it). The default is the request's `Authorization` and `Cookie` headers as sent:
   * cookies are included because a browser session is as much an identity as a bearer token, at
   * the cost that a retry whose cookies changed runs again (pass a `scope` reading the session id
   * to avoid that). Requests with neither header (or a scope of `""`) share one anonymous scope:
   * there a response is as private as the key is hard to guess, so anonymous clients must send
   * random keys (a UUID v4), or the route must give a scope of its own.
   * @default {(request) => the Authorization and Cookie headers, or "" without both}
   */
  readonly scope?: (request: Request, context: C) => string | Promise<string>;
  /**
   * Whether a response with this status is stored and replayed. A response that is not stored is
   * passed on untouched and releases the key, so the client's retry runs again. The default
   * stores 2xx, 3xx and 4xx as final (Stripe and the IETF draft replay errors too) but, unlike
   * them, not what a retry may change: 5xx, `408 Request Timeout` and `429 Too Many Requests`
   * (the request was not served), nor 1xx (a `101` upgrade cannot be replayed). Not storing uses
   * `execute`'s failure path: with a provider created with `cacheFailures: true` the key then
   * holds a failure for `ttlMs`.
   * @default {(status) => status >= 200 && status < 500 && status !== 408 && status !== 429}
   */
  readonly storeStatus?: (status: number) => boolean;
}

/** Options of {@linkcode idempotencyHandler}. */
export type IdempotencyHandlerOptions = IdempotencyMiddlewareOptions<Deno.ServeHandlerInfo>;

/** The part of a once provider the middleware needs. */
export type Executor = Pick<Once, "execute">;

interface StoredResponse {
  status: number;
  statusText?: string;
  headers: [string, string][];
  body: string;
}

/** Carries a response that is not stored out of `execute`, whose failure path releases the key. */
class UnstoredResponse extends Error {
  constructor(readonly response: Response) {
    super(`The response was not stored: its status ${response.status} may change on a retry`);
    this.name = "UnstoredResponse";
  }
}

const defaultStoreStatus = (status: number): boolean =>
  status >= 200 && status < 500 && status !== 408 && status !== 429;

function credentials(request: Request): string {
  const authorization = request.headers.get("authorization");
  const cookie = request.headers.get("cookie");
  if (authorization === null && cookie === null) return "";
  // Header values cannot hold a line break, so the two fields cannot run into each other.
  return `authorization:${authorization ?? ""}\ncookie:${cookie ?? ""}`;
}

function text(status: number, message: string): Response {
  return new Response(message + "\n", { status, headers: { "content-type": "text/plain" } });
}

async function sha256Hex(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function digest(method: string, url: string, body: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(`${method} ${url}\n`);
  const data = new Uint8Array(head.length + body.length);
  data.set(head);
  data.set(body, head.length);
  return sha256Hex(data);
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function requireFunction(field: string, value: unknown): void {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(
      `Cannot create idempotencyMiddleware as '${field}' must be a function: current value is ${
        String(value)
      }`,
    );
  }
}

/**
 * A middleware that answers a repeated `Idempotency-Key` from the first response, scoped to the
 * caller.
 *
 * @param once A once provider; callers must not wait (409 instead), which the middleware asks for
 * per call.
 * @param options TTL, whether the key is required, the header name, the caller's scope (it gets
 * the framework's context), which statuses are stored.
 * @returns A middleware for `serveHandler` or `honoMiddleware` (`@gochat/kit/http`).
 * @throws {RangeError} When `ttlMs` is not a positive integer.
 * @throws {TypeError} When `scope` or `storeStatus` is not a function.
 *
 * @example Scoped to the user a Hono auth middleware set
 * ```ts ignore
 * app.post("/orders", honoMiddleware(idempotencyMiddleware(once, {
 *   ttlMs: 86_400_000,
 *   scope: (_request, c: Context<{ Variables: { user: string } }>) => c.get("user"),
 * })), createOrder);
 * ```
 */
export function idempotencyMiddleware<C>(
  once: Executor,
  options: IdempotencyMiddlewareOptions<C>,
): Middleware<C> {
  const {
    ttlMs,
    required = true,
    header = "Idempotency-Key",
    scope = credentials,
    storeStatus = defaultStoreStatus,
  } = options ?? {};
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
    throw new RangeError(
      `Cannot create idempotencyMiddleware as 'ttlMs' must be a positive integer: current value is ${ttlMs}`,
    );
  }
  requireFunction("scope", scope);
  requireFunction("storeStatus", storeStatus);
  return async (exchange, next) => {
    const { request, context } = exchange;
    const key = request.headers.get(header);
    if (!key) return required ? text(400, `Missing ${header} header`) : await next();
    const owner = await scope(request, context);
    if (typeof owner !== "string") {
      throw new TypeError(
        `Cannot run idempotencyMiddleware as 'scope' must return a string: current value is ${
          String(owner)
        }`,
      );
    }
    // Hashed so that no credential (nor a user id) is written into the key.
    const scopeDigest = await sha256Hex(new TextEncoder().encode(owner));
    const fingerprint = await digest(request.method, request.url, await exchange.body());
    let stored: StoredResponse;
    try {
      stored = await once.execute<StoredResponse>(`http:${scopeDigest}:${key}`, ttlMs, async () => {
        const response = await next();
        if (!storeStatus(response.status)) throw new UnstoredResponse(response);
        return {
          status: response.status,
          statusText: response.statusText,
          headers: [...response.headers],
          body: toBase64(new Uint8Array(await response.arrayBuffer())),
        };
      }, { fingerprint, wait: false });
    } catch (error) {
      if (error instanceof UnstoredResponse) return error.response;
      const code = (error as { code?: string })?.code;
      if (code === "ONCE_IN_PROGRESS") {
        return text(409, "A request with this Idempotency-Key is in progress");
      }
      if (code === "ONCE_CONFLICT") {
        return text(422, "This Idempotency-Key was used with a different request");
      }
      throw error;
    }
    const nullBody = stored.status === 204 || stored.status === 205 || stored.status === 304;
    return new Response(nullBody ? null : fromBase64(stored.body), {
      status: stored.status,
      statusText: stored.statusText,
      headers: stored.headers,
    });
  };
}

/**
 * Wraps a `Deno.serve` handler in {@linkcode idempotencyMiddleware}: idempotency keys, scoped to
 * the caller.
 *
 * @param once A once provider; callers must not wait (409 instead), which the handler asks for per call.
 * @param options TTL, whether the key is required, the header name, the caller's scope, which
 * statuses are stored.
 * @returns A function that wraps a handler.
 * @throws {RangeError} When `ttlMs` is not a positive integer.
 * @throws {TypeError} When `scope` or `storeStatus` is not a function.
 *
 * @example A retried POST is answered from the first response, for the same caller only
 * ```ts
 * import { idempotencyHandler } from "./http.ts";
 * import { create } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using once = await create();
 * let orders = 0;
 * const handler = idempotencyHandler(once, { ttlMs: 60_000 })(() => new Response(`order ${++orders}`, { status: 201 }));
 * const info = {} as Deno.ServeHandlerInfo;
 * const post = (user: string) =>
 *   new Request("http://x/orders", { method: "POST", body: "{}", headers: { "Idempotency-Key": "k1", Authorization: `Bearer ${user}` } });
 * assert.equal(await (await handler(post("ann"), info)).text(), "order 1");
 * const replay = await handler(post("ann"), info);
 * assert.equal(replay.status, 201);
 * assert.equal(await replay.text(), "order 1");
 * assert.equal(await (await handler(post("bob"), info)).text(), "order 2");
 * assert.equal((await handler(new Request("http://x/orders", { method: "POST" }), info)).status, 400);
 * ```
 */
export function idempotencyHandler(
  once: Executor,
  options: IdempotencyHandlerOptions,
): (handler: ServeHandler) => (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  const middleware = idempotencyMiddleware(once, options);
  return (handler) => serveHandler(handler, middleware);
}
