/**
 * once: idempotency. `do(key, ttlMs, fn)` runs `fn` once per key within the
 * TTL; `execute(key, ttlMs, fn)` also stores its result and returns it to every
 * later caller. Concurrent callers of one key never both run: one runs, the
 * others wait for its result (or get `OnceInProgressError`). While `fn` runs
 * its in-progress lock is renewed; if the lock is lost, the `signal` of the
 * {@linkcode Call} that `fn` gets fires.
 *
 * @example Exactly once, the same result for everyone
 * ```ts
 * import { once } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using idempotency = await once.create(once.defaultConfig("development"));
 * let charges = 0;
 * const charge = () => Promise.resolve({ receipt: ++charges });
 * const results = await Promise.all([1, 2, 3].map(() => idempotency.execute("pay:42", 60_000, charge)));
 * assert.equal(charges, 1);
 * assert.deepEqual(results, [{ receipt: 1 }, { receipt: 1 }, { receipt: 1 }]);
 * ```
 *
 * @module
 */
import { DriverError, LostError } from "../internal/errors.ts";
import { type Logger, namespace } from "../clog/mod.ts";
import type { Call } from "../internal/call.ts";
import { checkConfig } from "../internal/config.ts";
import { ownKeyPrefix } from "../internal/namespace.ts";
import { requireEnv } from "../internal/env.ts";
import { type Serializer, serializerOption } from "../internal/json.ts";
import { TtlKeeper } from "../internal/keeper.ts";
import { kitTracer, type OtelSpan } from "../internal/otel.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { optionalSignal, sleep } from "../internal/signal.ts";
import type { Metrics } from "../metrics/mod.ts";
import { memoryOnce } from "./memory.ts";
import { onceSpan } from "./trace.ts";
import type { OnceDriver, OnceOutcome } from "./types.ts";

export type { Call } from "../internal/call.ts";
export { DriverError, LostError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export type { Exchange, Middleware, Next } from "../http/middleware.ts";
export type { ServeHandler } from "../http/serve.ts";
export { idempotencyHandler, idempotencyMiddleware } from "./http.ts";
export { jsonSerializer } from "../internal/json.ts";
export type { Serializer } from "../internal/json.ts";
export type { Executor, IdempotencyHandlerOptions, IdempotencyMiddlewareOptions } from "./http.ts";
export { memoryOnce, MemoryOnceStore } from "./memory.ts";
export type { MemoryOnceOptions } from "./memory.ts";

/** Static settings of a once provider. */
export interface OnceConfig {
  /**
   * How long an in-progress mark survives a runner that stopped renewing it (a crash).
   * @default {10000}
   */
  readonly lockTtlMs: number;
  /**
   * Callers that find the key in progress wait for the result; false makes them fail at once
   * with `OnceInProgressError`.
   * @default {true}
   */
  readonly wait: boolean;
  /**
   * How long a waiting caller waits before giving up with `OnceInProgressError`.
   * @default {30000}
   */
  readonly waitTimeoutMs: number;
  /**
   * Store failures like results (later callers get `OnceFailedError`), as Stripe does; by
   * default a failure clears the key so a retry can run.
   * @default {false}
   */
  readonly cacheFailures: boolean;
  /**
   * Namespace of this provider's keys on a shared backend (`im-logic:`): a key `k` is stored as
   * `{keyPrefix}once:k`. Required on any driver but memory, so two services on one Redis never
   * answer each other's keys; `""` shares the keyspace on purpose.
   * @default {"" on the memory driver; none (required) on the others}
   */
  readonly keyPrefix?: string;
}

/** Per-call options. */
export interface OnceCallOptions {
  /** A digest of the request's payload: the same key with another payload is `OnceConflictError`. */
  readonly fingerprint?: string;
  /** Overrides `config.wait` for this call. */
  readonly wait?: boolean;
  /**
   * Ends this caller's wait for another caller's result (rejecting with the signal's reason); when
   * this caller runs `fn`, `fn`'s signal fires on it too, and the failure clears the key.
   */
  readonly signal?: AbortSignal;
}

/** Dependencies of a once provider. */
export interface CreateOptions {
  /** The backend; `memoryOnce()` by default. The provider closes it. */
  readonly driver?: OnceDriver;
  /** Logger; `clog.namespace("once")` by default. */
  readonly logger?: Logger;
  /**
   * Encoding of stored results; {@linkcode jsonSerializer} by default: JSON where a bigint is an
   * integer literal with all its digits (an int64 to Go), and an integer literal beyond
   * ±(2^53 − 1) reads back as a bigint. A result of `undefined` is stored as `null`. The output
   * of another serializer must be well-formed Unicode.
   */
  readonly serializer?: Serializer;
  /**
   * Where to record `once_calls_total{outcome}`: `ran`, `failed` (fn threw), `replayed` (a stored
   * result returned), `replayed_failure`, `conflict`, `in_progress`.
   */
  readonly metrics?: Pick<Metrics, "counter">;
}

/** The key is being run by another caller (and this one does not wait, or waited too long). */
export class OnceInProgressError extends Error {
  /** Stable code. */
  readonly code = "ONCE_IN_PROGRESS";
  /** The key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The key.
   * @param detail Why the caller stopped waiting.
   */
  constructor(key: string, detail = "another caller is running it") {
    super(`Cannot run '${key}' now: ${detail}`);
    this.name = "OnceInProgressError";
    this.key = key;
  }
}

/** The key was used with another payload. */
export class OnceConflictError extends Error {
  /** Stable code. */
  readonly code = "ONCE_CONFLICT";
  /** The key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The key.
   */
  constructor(key: string) {
    super(`Cannot run '${key}' as it was already used with a different payload`);
    this.name = "OnceConflictError";
    this.key = key;
  }
}

/** The run of the key failed earlier and failures are cached. */
export class OnceFailedError extends Error {
  /** Stable code. */
  readonly code = "ONCE_FAILED";
  /** The key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The key.
   * @param message The original failure's message.
   */
  constructor(key: string, message: string) {
    super(`'${key}' already ran and failed: ${message}`);
    this.name = "OnceFailedError";
    this.key = key;
  }
}

/**
 * The in-progress lock of a key was lost: the reason `fn`'s signal fires, and the error of a
 * caller whose `fn` finished after losing its lock when the key's own result cannot be had
 * (another caller runs the key now and this one does not wait).
 */
export class OnceLockLostError extends LostError {
  /** Stable code. */
  readonly code = "ONCE_LOCK_LOST";
  /** The key. */
  readonly key: string;

  /**
   * Creates the error.
   *
   * @param key The key.
   * @param reason Why.
   */
  constructor(key: string, reason: string) {
    super(`The in-progress lock of '${key}' was lost: ${reason}`);
    this.name = "OnceLockLostError";
    this.key = key;
  }
}

/** A once provider. */
export interface Once extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /** Runs `fn` unless `key` already ran within its TTL; resolves to whether it ran now. */
  do(
    key: string,
    ttlMs: number,
    fn: (call: Call) => Promise<void>,
    options?: OnceCallOptions,
  ): Promise<boolean>;
  /**
   * Runs `fn` once per `key` within `ttlMs` and returns its stored result to every caller. A
   * caller whose in-progress lock was lost before its result was stored gets the key's stored
   * result (another caller's) or {@linkcode OnceLockLostError}, never a second result.
   */
  execute<T>(
    key: string,
    ttlMs: number,
    fn: (call: Call) => Promise<T>,
    options?: OnceCallOptions,
  ): Promise<T>;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Closes the driver. */
  close(): Promise<void>;
}

const CONFIG_KEYS = [
  "lockTtlMs",
  "wait",
  "waitTimeoutMs",
  "cacheFailures",
  "keyPrefix",
] as const satisfies readonly (keyof OnceConfig)[];

/**
 * The recommended configuration: 10 s in-progress locks, waiting callers (30 s at most),
 * failures not cached.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): OnceConfig {
  requireEnv("once", env);
  return {
    lockTtlMs: 10_000,
    wait: true,
    waitTimeoutMs: 30_000,
    cacheFailures: false,
  };
}

/** Checks the config; returns the key prefix and the serializer. */
function validate(
  config: OnceConfig,
  options: CreateOptions,
  driver: OnceDriver,
): { keyPrefix: string; serializer: Serializer } {
  checkConfig("once", config, CONFIG_KEYS);
  for (const field of ["wait", "cacheFailures"] as const) {
    if (typeof config[field] !== "boolean") {
      throw new TypeError(
        `Cannot create once as '${field}' must be a boolean: current value is ${
          JSON.stringify(config[field])
        }`,
      );
    }
  }
  for (const field of ["lockTtlMs", "waitTimeoutMs"] as const) {
    if (!Number.isSafeInteger(config[field]) || config[field] <= 0) {
      throw new RangeError(
        `Cannot create once as '${field}' must be a positive integer: current value is ${
          config[field]
        }`,
      );
    }
  }
  return {
    keyPrefix: ownKeyPrefix("once", config.keyPrefix, driver.name),
    serializer: serializerOption("once", options.serializer),
  };
}

/**
 * Creates a once provider.
 *
 * @param config Lock TTL, waiting and failure caching; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default) and logger.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 */
export function create(
  config: OnceConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Once> {
  const driver = options.driver ?? memoryOnce();
  let keyPrefix: string;
  let serializer: Serializer;
  try {
    ({ keyPrefix, serializer } = validate(config, options, driver));
  } catch (error) {
    return driver.close().catch(() => {}).then(() => Promise.reject(error));
  }
  const logger = options.logger ?? namespace("once");
  const calls = options.metrics?.counter("once_calls_total", {
    help: "Idempotent calls by outcome.",
    labels: ["outcome"],
  });
  /** Counts an outcome, and says it on the call's span when tracing. */
  const count = (outcome: string, span: OtelSpan | undefined) => {
    calls?.inc({ outcome });
    span?.setAttribute("once.outcome", outcome);
  };

  const run = async <T>(
    name: string,
    ttlMs: number,
    fn: (call: Call) => Promise<T>,
    call: OnceCallOptions,
    span?: OtelSpan,
  ): Promise<{ ran: boolean; value: T }> => {
    if (typeof name !== "string" || name.length === 0 || !name.isWellFormed()) {
      throw new TypeError(
        `Cannot run once as 'key' must be a non-empty, well-formed Unicode string: current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
      throw new RangeError(
        `Cannot run '${name}' once as 'ttlMs' must be a positive integer: current value is ${ttlMs}`,
      );
    }
    if (typeof fn !== "function") {
      throw new TypeError(`Cannot run '${name}' once as 'fn' must be a function`);
    }
    const signal = optionalSignal(`run '${name}' once`, call.signal);
    signal?.throwIfAborted();
    const key = `${keyPrefix}once:${name}`;
    const fingerprint = call.fingerprint ?? "";
    const wait = call.wait ?? config.wait;
    let token = crypto.randomUUID();
    let deadline = Date.now() + config.waitTimeoutMs;
    let backoffMs = 5;
    /**
     * What `fn` returned when this caller's lock was lost before the result was stored: the key
     * then answers with what it holds (another caller's result), never with a second result.
     */
    let unstored: { value: T; outcome: OnceOutcome } | undefined;
    for (;;) {
      const requestedAt = Date.now();
      const state = await driver.begin(key, token, fingerprint, config.lockTtlMs);
      if (state.state === "acquired" && signal?.aborted) {
        // The caller gave up while the lock was being taken: run nothing, free the key.
        await driver.abandon(key, token);
        throw signal.reason;
      }
      if (state.state === "acquired" && unstored) {
        // Nobody ran the key after this caller's lock expired: its result is the only one.
        if (await driver.complete(key, token, unstored.outcome, ttlMs)) {
          return { ran: true, value: unstored.value };
        }
        throw new OnceLockLostError(name, "it was lost again before the result could be stored");
      }
      if (state.state === "acquired") {
        const keeper = new TtlKeeper({
          ttlMs: config.lockTtlMs,
          refresh: () => driver.renew(key, token, config.lockTtlMs),
          lostError: (reason, cause) =>
            Object.assign(new OnceLockLostError(name, reason), { cause }),
          logger,
          what: "once lock",
          fields: { key: name },
          confirmedAt: requestedAt,
        });
        /**
         * Stores the outcome; a backend that failed (an outage, a failover) is asked again while
         * the lock lasts, since giving up would leave the key running until the lock expired,
         * and the next caller would run `fn` a second time.
         */
        const store = async (outcome: OnceOutcome): Promise<boolean> => {
          for (let pauseMs = 20;; pauseMs = Math.min(pauseMs * 2, 500)) {
            try {
              return await driver.complete(key, token, outcome, ttlMs);
            } catch (error) {
              if (!(error instanceof DriverError) || keeper.lost.aborted) throw error;
              logger.warn("once result could not be stored; trying again while the lock lasts", {
                key: name,
                err: error,
              });
              await sleep(pauseMs, keeper.lost).catch(() => {
                throw error;
              });
            }
          }
        };
        try {
          let value: T;
          try {
            value = await fn({
              signal: signal ? AbortSignal.any([keeper.lost, signal]) : keeper.lost,
            });
          } catch (error) {
            count("failed", span);
            if (config.cacheFailures) {
              const message = error instanceof Error ? error.message : String(error);
              await store({ status: "error", payload: message });
            } else {
              await driver.abandon(key, token);
            }
            throw error;
          }
          let payload: string;
          try {
            payload = serializer.encode(
              value === undefined ? null : value,
              `the result of '${name}'`,
            );
          } catch (error) {
            await driver.abandon(key, token);
            throw error;
          }
          const outcome: OnceOutcome = { status: "ok", payload };
          count("ran", span);
          if (await store(outcome)) return { ran: true, value };
          logger.warn(
            "once lock was lost before the result could be stored; answering with what the key holds",
            { key: name },
          );
          unstored = { value, outcome };
        } finally {
          keeper.stop();
        }
        token = crypto.randomUUID();
        deadline = Date.now() + config.waitTimeoutMs;
        continue;
      }
      if (state.fingerprint !== fingerprint) {
        count("conflict", span);
        throw new OnceConflictError(name);
      }
      if (state.state === "done") {
        if (state.outcome.status === "error") {
          count("replayed_failure", span);
          throw new OnceFailedError(name, state.outcome.payload);
        }
        if (!unstored) count("replayed", span);
        return {
          ran: unstored !== undefined,
          value: serializer.decode(state.outcome.payload) as T,
        };
      }
      if (!wait && unstored) {
        throw new OnceLockLostError(name, "another caller is running the key now");
      }
      if (!wait) {
        count("in_progress", span);
        throw new OnceInProgressError(name);
      }
      if (Date.now() >= deadline) {
        count("in_progress", span);
        throw new OnceInProgressError(name, `still running after ${config.waitTimeoutMs} ms`);
      }
      await sleep(backoffMs * (0.5 + Math.random()), signal);
      backoffMs = Math.min(backoffMs * 2, 200);
    }
  };

  /** `run` in its span; apart from `do` and `execute`, whose untraced calls then allocate nothing. */
  const traced = <T>(
    tracer: NonNullable<ReturnType<typeof kitTracer>>,
    operation: "do" | "execute",
    name: string,
    ttlMs: number,
    fn: (call: Call) => Promise<T>,
    call: OnceCallOptions,
  ) => onceSpan(tracer, driver.name, operation, (span) => run(name, ttlMs, fn, call, span));

  let closed = false;
  const close = () => {
    closed = true;
    return driver.close();
  };
  return Promise.resolve({
    driver: driver.name,
    do: async (key, ttlMs, fn, call = {}) => {
      const tracer = kitTracer();
      if (tracer === undefined) return (await run(key, ttlMs, fn, call)).ran;
      return (await traced(tracer, "do", key, ttlMs, fn, call)).ran;
    },
    execute: async (key, ttlMs, fn, call = {}) => {
      const tracer = kitTracer();
      if (tracer === undefined) return (await run(key, ttlMs, fn, call)).value;
      return (await traced(tracer, "execute", key, ttlMs, fn, call)).value;
    },
    ping: (options?: PingOptions) =>
      pingProvider("once", driver.name, () => closed, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  });
}
