/**
 * The `Idempotency-Key` header for `Deno.serve` handlers: 400 when required and
 * missing, 409 while the first request with the key is in progress, 422 when
 * the key is reused with another payload, and the stored response replayed otherwise.
 *
 * @module
 */
import type { Once } from "./mod.ts";

/** Options of {@linkcode idempotencyHandler}. */
export interface IdempotencyHandlerOptions {
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
}

/** The part of a once provider the handler needs. */
export type Executor = Pick<Once, "execute">;

interface StoredResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

function text(status: number, message: string): Response {
  return new Response(message + "\n", { status, headers: { "content-type": "text/plain" } });
}

async function digest(method: string, url: string, body: Uint8Array): Promise<string> {
  const head = new TextEncoder().encode(`${method} ${url}\n`);
  const data = new Uint8Array(head.length + body.length);
  data.set(head);
  data.set(body, head.length);
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return Array.from(hash, (byte) => byte.toString(16).padStart(2, "0")).join("");
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

/**
 * Wraps a `Deno.serve` handler with idempotency keys.
 *
 * @param once A once provider; callers must not wait (409 instead), which the handler asks for per call.
 * @param options TTL, whether the key is required, the header name.
 * @returns A function that wraps a handler.
 *
 * @example A retried POST is answered from the first response
 * ```ts
 * import { idempotencyHandler } from "./http.ts";
 * import { create } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using once = await create();
 * let orders = 0;
 * const handler = idempotencyHandler(once, { ttlMs: 60_000 })(() => new Response(`order ${++orders}`, { status: 201 }));
 * const info = {} as Deno.ServeHandlerInfo;
 * const post = () => new Request("http://x/orders", { method: "POST", body: "{}", headers: { "Idempotency-Key": "k1" } });
 * assert.equal(await (await handler(post(), info)).text(), "order 1");
 * const replay = await handler(post(), info);
 * assert.equal(replay.status, 201);
 * assert.equal(await replay.text(), "order 1");
 * assert.equal((await handler(new Request("http://x/orders", { method: "POST" }), info)).status, 400);
 * ```
 */
export function idempotencyHandler(
  once: Executor,
  options: IdempotencyHandlerOptions,
): (
  handler: (request: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>,
) => (request: Request, info: Deno.ServeHandlerInfo) => Promise<Response> {
  const { ttlMs, required = true, header = "Idempotency-Key" } = options;
  return (handler) => async (request, info) => {
    const key = request.headers.get(header);
    if (!key) {
      return required ? text(400, `Missing ${header} header`) : await handler(request, info);
    }
    const body = new Uint8Array(await request.arrayBuffer());
    const fingerprint = await digest(request.method, request.url, body);
    const forward = new Request(request, { body: body.length > 0 ? body : undefined });
    try {
      const stored = await once.execute<StoredResponse>(`http:${key}`, ttlMs, async () => {
        const response = await handler(forward, info);
        return {
          status: response.status,
          headers: [...response.headers],
          body: toBase64(new Uint8Array(await response.arrayBuffer())),
        };
      }, { fingerprint, wait: false });
      const responseBody = stored.status === 204 || stored.status === 304
        ? null
        : fromBase64(stored.body);
      return new Response(responseBody, { status: stored.status, headers: stored.headers });
    } catch (error) {
      const code = (error as { code?: string })?.code;
      if (code === "ONCE_IN_PROGRESS") {
        return text(409, "A request with this Idempotency-Key is in progress");
      }
      if (code === "ONCE_CONFLICT") {
        return text(422, "This Idempotency-Key was used with a different request");
      }
      throw error;
    }
  };
}
