/**
 * Liveness and readiness endpoints for `Deno.serve`: `/healthz` answers while the process
 * runs, `/readyz` pings every provider (or check function) at once, under one time limit.
 *
 * @example Ready while every provider answers
 * ```ts
 * import { cache, health } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using c = await cache.create();
 * const { healthz, readyz } = health.handlers({ checks: { cache: c, disk: () => Promise.resolve() } });
 * assert.equal((await healthz(new Request("http://x/healthz"))).status, 200);
 * const response = await readyz(new Request("http://x/readyz"));
 * assert.equal(response.status, 200);
 * assert.equal((await response.json()).checks.cache.ok, true);
 * ```
 *
 * @module
 */
import type { Call } from "../internal/call.ts";
import { checkConfig } from "../internal/config.ts";
import { abortable } from "../internal/signal.ts";

export type { Call } from "../internal/call.ts";
export * from "./shutdown.ts";

/** What a provider offers readiness probes: every stateful provider of the kit has it. */
export interface Pingable {
  /** Resolves when the backend answers; rejects (with a `DriverError`) when it does not. */
  ping(options?: { readonly signal?: AbortSignal }): Promise<void>;
}

/** One readiness check: a provider, or a function that resolves when its dependency is ready. */
export type Check = Pingable | ((call: Call) => Promise<void>);

/** Options of {@linkcode handlers}. */
export interface HealthOptions {
  /** The checks of `/readyz`, by the name it reports them under. */
  readonly checks: Readonly<Record<string, Check>>;
  /**
   * How long `/readyz` waits for each check; a check still pending then fails.
   * @default {2000}
   */
  readonly timeoutMs?: number;
}

/** The outcome of one check in `/readyz`'s body. */
export interface CheckResult {
  /** Whether the check passed in time. */
  readonly ok: boolean;
  /** How long it took (or was waited for), in whole milliseconds. */
  readonly ms: number;
  /** Why it failed: the error's message (a `DriverError`'s carries no credentials). */
  readonly error?: string;
}

/** The JSON body of `/readyz`. */
export interface Readiness {
  /**
   * `ready` (status 200) when every check passed, else `not ready` (status 503); `draining`
   * (status 503, no check run) once `drain()` was called.
   */
  readonly status: "ready" | "not ready" | "draining";
  /** Every check's outcome, by name. */
  readonly checks: Readonly<Record<string, CheckResult>>;
}

/** The two `Deno.serve` handlers {@linkcode handlers} returns. */
export interface HealthHandlers {
  /** Liveness: 200 `ok` while the process runs; it calls no backend. */
  healthz(request: Request): Response;
  /** Readiness: 200 with a {@linkcode Readiness} body when every check passes in time, else 503. */
  readyz(request: Request): Promise<Response>;
  /** From now on `/readyz` answers 503 `draining`, so load balancers stop sending; for shutdown. */
  drain(): void;
}

const OPTION_KEYS = ["checks", "timeoutMs"];

/**
 * Makes `/healthz` and `/readyz` handlers from a set of providers and check functions.
 *
 * @param options The checks, by name, and the time limit of each.
 * @returns The two handlers; they answer `GET` and `HEAD`, and 405 to other methods.
 * @throws {TypeError} On an unknown option, or a check that is neither a provider with
 * `ping()` nor a function.
 * @throws {RangeError} When `timeoutMs` is not a positive number.
 *
 * @example A failing provider makes /readyz answer 503 and name it
 * ```ts
 * import { handlers } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const { readyz } = handlers({
 *   checks: { queue: { ping: () => Promise.reject(new Error("queue driver: ping failed")) } },
 * });
 * const response = await readyz(new Request("http://x/readyz"));
 * assert.equal(response.status, 503);
 * assert.equal((await response.json()).checks.queue.error, "queue driver: ping failed");
 * ```
 */
export function handlers(options: HealthOptions): HealthHandlers {
  checkConfig("health handlers", options, OPTION_KEYS, { argument: "options", noun: "option" });
  const { checks, timeoutMs = 2000 } = options;
  if (checks === null || typeof checks !== "object" || Array.isArray(checks)) {
    throw new TypeError(
      `Cannot create health handlers as 'checks' must be an object: current value is ${checks}`,
    );
  }
  const runs = Object.entries(checks).map(([name, check]) => [name, toRun(name, check)] as const);
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot create health handlers as 'timeoutMs' must be a positive number: current value is ${timeoutMs}`,
    );
  }

  let draining = false;
  const healthz = (request: Request): Response =>
    refused(request) ?? reply(request, 200, "text/plain; charset=utf-8", "ok\n");

  const readyz = async (request: Request): Promise<Response> => {
    const refusal = refused(request);
    if (refusal) return refusal;
    if (draining) {
      const body: Readiness = { status: "draining", checks: {} };
      return reply(request, 503, "application/json", JSON.stringify(body));
    }
    const results = await Promise.all(
      runs.map(async ([name, run]) => [name, await timed(run, timeoutMs)] as const),
    );
    const body: Readiness = {
      status: results.every(([, result]) => result.ok) ? "ready" : "not ready",
      checks: Object.fromEntries(results),
    };
    return reply(
      request,
      body.status === "ready" ? 200 : 503,
      "application/json",
      JSON.stringify(body),
    );
  };
  return { healthz, readyz, drain: () => void (draining = true) };
}

function toRun(name: string, check: unknown): (call: Call) => Promise<void> {
  if (typeof check === "function") return check as (call: Call) => Promise<void>;
  if (
    check !== null && typeof check === "object" && typeof (check as Pingable).ping === "function"
  ) {
    return (call) => (check as Pingable).ping({ signal: call.signal });
  }
  throw new TypeError(
    `Cannot create health handlers as check '${name}' must be a provider with ping() or a function: current value is ${check}`,
  );
}

/** Runs one check under the time limit; the check's signal aborts when the limit is reached. */
async function timed(run: (call: Call) => Promise<void>, timeoutMs: number): Promise<CheckResult> {
  const start = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await abortable(
      Promise.resolve().then(() => run({ signal: controller.signal })),
      controller.signal,
    );
    return { ok: true, ms: Math.round(performance.now() - start) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, ms: Math.round(performance.now() - start), error: message };
  } finally {
    clearTimeout(timer);
  }
}

function refused(request: Request): Response | undefined {
  if (request.method === "GET" || request.method === "HEAD") return undefined;
  return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
}

function reply(request: Request, status: number, type: string, body: string): Response {
  return new Response(request.method === "HEAD" ? null : body, {
    status,
    headers: { "content-type": type, "cache-control": "no-store" },
  });
}
