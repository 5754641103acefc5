/**
 * Service-to-service HTTP calls: {@linkcode serviceClient} finds an instance of a service in
 * coord's registry, calls it through a circuit breaker of that instance, retries another instance
 * when it fails, keeps one deadline for the whole call, and carries the trace (`traceparent`,
 * `X-Trace-ID`, a client span with an OpenTelemetry SDK) — what the Go kit's logic did when it
 * called repo.
 *
 * @example Calling im-repo from im-logic
 * ```ts
 * import { coord, rpc } from "@gochat/kit";
 * import assert from "node:assert/strict";
 *
 * await using coordinator = await coord.create(coord.defaultConfig("development"));
 * await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   Response.json({ id: 7 }));
 * await using _registration = await coordinator.registry.register({
 *   id: "repo-1", name: "im-repo", address: "127.0.0.1", port: server.addr.port,
 * });
 * const repo = rpc.serviceClient({ registry: coordinator.registry, service: "im-repo" });
 * assert.deepEqual(await repo.json("/messages/7"), { id: 7 });
 * ```
 *
 * @module
 */
import { tracedFetch } from "../http/trace.ts";
import * as retrying from "../retry/mod.ts";
import type { Policy as RetryPolicy } from "../retry/mod.ts";
import type { Breaker } from "../breaker/mod.ts";

/** An instance as the registry lists it. */
export interface ServiceInstance {
  /** Unique instance id. */
  readonly id: string;
  /** Host name or IP. */
  readonly address: string;
  /** Port. */
  readonly port: number;
}

/** Where instances are found: `coordinator.registry` is one. */
export interface InstancePicker {
  /** A live instance of `service` (rejects with `NoInstanceError` when there is none). */
  pick(service: string): Promise<ServiceInstance>;
}

/** Breakers by name: `breakers.create(…)`'s provider is one. */
export interface BreakerSource {
  /** The breaker protecting `name`. */
  get(name: string): Breaker;
}

/** Options of {@linkcode serviceClient}. */
export interface ServiceClientOptions {
  /** Where instances are found: `coordinator.registry`. */
  readonly registry: InstancePicker;
  /** The service's registered name (`im-repo`). */
  readonly service: string;
  /**
   * A breaker per instance, named `<service>/<instance id>`: an instance that keeps failing is
   * skipped (its breaker open) while the others serve.
   */
  readonly breakers?: BreakerSource;
  /**
   * How failed calls are retried on another instance: a network error, an open breaker, no
   * instance, or a 502 / 503 / 504 answer. Only idempotent methods (GET, HEAD, OPTIONS, PUT,
   * DELETE) and requests with an `Idempotency-Key` header are retried.
   * @default {{ maxRetries: 2, backoff: exponential(50, 2, 1000) }}
   */
  readonly retry?: RetryPolicy;
  /**
   * The deadline of a whole call, retries included; the call rejects with a `TimeoutError`
   * `DOMException` after it.
   * @default {5000}
   */
  readonly timeoutMs?: number;
  /**
   * The scheme of the instances' addresses.
   * @default {"http"}
   */
  readonly scheme?: "http" | "https";
}

/** Calls one service. */
export interface ServiceClient {
  /** The service called. */
  readonly service: string;
  /**
   * Calls `path` on an instance of the service and returns its response (a 5xx one too, once
   * retries are spent). Once retries are spent, rejects with `ServiceCallError` (unreachable),
   * `BreakerOpenError` or `NoInstanceError`; at the deadline with a `TimeoutError` `DOMException`.
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /**
   * `fetch`, then the response's JSON.
   *
   * @throws {ServiceStatusError} When the answer is not 2xx.
   */
  json<T = unknown>(path: string, init?: RequestInit): Promise<T>;
}

/** A non-2xx answer where JSON was asked for, or a 5xx that counts as a failure of the instance. */
export class ServiceStatusError extends Error {
  /** Stable code. */
  readonly code = "RPC_STATUS";
  /** The service called. */
  readonly service: string;
  /** The instance that answered. */
  readonly instance: string;
  /** The HTTP status. */
  readonly status: number;
  /** The response; its body is unread. */
  readonly response: Response;

  /**
   * Creates the error.
   *
   * @param service The service called.
   * @param instance The instance that answered.
   * @param response Its response.
   */
  constructor(service: string, instance: string, response: Response) {
    super(
      `Service '${service}'${
        instance ? ` (instance '${instance}')` : ""
      } answered ${response.status}`,
    );
    this.name = "ServiceStatusError";
    this.service = service;
    this.instance = instance;
    this.status = response.status;
    this.response = response;
  }
}

/** An instance could not be reached (refused, reset, DNS): the request may not have arrived. */
export class ServiceCallError extends Error {
  /** Stable code. */
  readonly code = "RPC_UNREACHABLE";
  /** The service called. */
  readonly service: string;
  /** The instance tried. */
  readonly instance: string;

  /**
   * Creates the error.
   *
   * @param service The service called.
   * @param instance The instance tried.
   * @param url Where it was called.
   * @param cause What `fetch` threw.
   */
  constructor(service: string, instance: string, url: string, cause: unknown) {
    super(
      `Cannot call service '${service}' (instance '${instance}' at ${new URL(url).host}): ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "ServiceCallError";
    this.service = service;
    this.instance = instance;
  }
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);
const RETRYABLE_STATUS = new Set([502, 503, 504]);

/**
 * A client of one service: instance discovery, a breaker per instance, retries on another
 * instance, a deadline, and the trace carried.
 *
 * @param options The registry, the service, breakers, retry policy and deadline.
 * @returns The client.
 * @throws {TypeError | RangeError} On a missing registry, an empty service name or a bad deadline.
 */
export function serviceClient(options: ServiceClientOptions): ServiceClient {
  const { registry, service, breakers } = options;
  if (typeof registry?.pick !== "function") {
    throw new TypeError(
      "Cannot create a service client as 'registry' must have pick(service): pass coordinator.registry",
    );
  }
  if (typeof service !== "string" || !/^[^/\s]+$/.test(service)) {
    throw new TypeError(
      `Cannot create a service client as 'service' must be a registered service name: current value is ${
        JSON.stringify(service)
      }`,
    );
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(
      `Cannot create a service client as 'timeoutMs' must be a positive integer: current value is ${timeoutMs}`,
    );
  }
  const scheme = options.scheme ?? "http";
  const policy: RetryPolicy = options.retry ?? {
    maxRetries: 2,
    backoff: (retry) => Math.min(50 * 2 ** (retry - 1), 1000),
  };

  const attempt = async (path: string, init: RequestInit, signal: AbortSignal) => {
    const instance = await registry.pick(service);
    const url = `${scheme}://${instance.address}:${instance.port}${path}`;
    const send = async () => {
      let response: Response;
      try {
        response = await tracedFetch(url, { ...init, signal });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new ServiceCallError(service, instance.id, url, error);
      }
      // A 5xx is the instance failing: its breaker counts it, and the call may go elsewhere.
      if (response.status >= 500) throw new ServiceStatusError(service, instance.id, response);
      return response;
    };
    return await (breakers ? breakers.get(`${service}/${instance.id}`).do(send) : send());
  };

  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    if (typeof path !== "string" || !path.startsWith("/")) {
      throw new TypeError(
        `Cannot call service '${service}' as 'path' must start with '/': current value is ${
          JSON.stringify(path)
        }`,
      );
    }
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    const method = (init.method ?? "GET").toUpperCase();
    const replayable = !(init.body instanceof ReadableStream) &&
      (IDEMPOTENT.has(method) || new Headers(init.headers).has("idempotency-key"));
    const retryIf = (error: unknown, attemptNumber: number) =>
      replayable &&
      (!(error instanceof ServiceStatusError) || RETRYABLE_STATUS.has(error.status)) &&
      (policy.retryIf?.(error, attemptNumber) ?? true);
    try {
      return await retrying.do(
        ({ signal }) => attempt(path, init, signal),
        { ...policy, retryIf },
        { signal },
      );
    } catch (error) {
      // Out of retries on a 5xx answer: the caller gets the answer, as from fetch.
      if (error instanceof ServiceStatusError) return error.response;
      throw error;
    }
  };

  return {
    service,
    fetch: call,
    async json<T>(path: string, init?: RequestInit): Promise<T> {
      const response = await call(path, init);
      if (!response.ok) {
        await response.body?.cancel();
        throw new ServiceStatusError(service, "", response);
      }
      return await response.json() as T;
    },
  };
}
