/**
 * getOrLoad: read-through caching where one loader runs per key at a time,
 * within a process (shared promise) and across instances (a short lease key
 * on the backend), with optional early refresh before expiry (XFetch) and a
 * grace period that serves the stale value when the loader fails.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { abortable, optionalSignal, sleep } from "../internal/signal.ts";
import type { Serializer } from "../internal/json.ts";
import type { BoundCounter } from "../metrics/mod.ts";
import { kitTracer, type OtelSpan, spanEvent } from "../internal/otel.ts";
import { type Keyspace, requireTtl, shownKey } from "./_util.ts";
import { cacheSpan, tracedLoad, type TraceInfo, type Tracer } from "./trace.ts";
import type { CacheDriver } from "./types.ts";

/** Options of `getOrLoad`. */
export interface GetOrLoadOptions {
  /** How long a loaded value is fresh. */
  readonly ttlMs: number;
  /**
   * Refresh in the background shortly before expiry, with a probability that rises as expiry
   * nears (XFetch); `beta` > 1 refreshes earlier. `false` turns it off.
   * @default {{ beta: 1 }}
   */
  readonly earlyRefresh?: false | { readonly beta: number };
  /**
   * After expiry, how long the old value may still be served when the loader fails.
   * @default {0}
   */
  readonly staleMs?: number;
  /**
   * Ends this caller's wait (rejecting with the signal's reason). The load itself goes on for the
   * other callers waiting on it and to fill the cache.
   */
  readonly signal?: AbortSignal;
}

/** What getOrLoad needs from its provider. */
export interface LoadContext {
  readonly driver: CacheDriver;
  readonly logger: Logger;
  readonly serializer: Serializer;
  /** Where values and load leases live. */
  readonly keyspace: Keyspace;
  /** What the `cache getOrLoad` span says of the provider. */
  readonly trace: TraceInfo;
  /** How long one instance may hold the right to load a key. */
  readonly loadLeaseMs: number;
  /** Loads under way in this process, by full key. */
  readonly inflight: Map<string, Promise<unknown>>;
  /** Background refreshes, awaited on provider close. */
  readonly background: Set<Promise<unknown>>;
  /** Counters of getOrLoad: cached values served, loader outcomes. */
  readonly counters?: Record<"hit" | "loaded" | "failed" | "stale", BoundCounter>;
}

interface Envelope {
  expiresAt: number;
  durationMs: number;
  text: string;
}

const MARK = "kit-load:1:";

function wrap(envelope: Envelope): string {
  return `${MARK}${envelope.expiresAt}:${envelope.durationMs}:${envelope.text}`;
}

function unwrap(stored: string | undefined): Envelope | undefined {
  if (stored === undefined || !stored.startsWith(MARK)) return undefined;
  const first = stored.indexOf(":", MARK.length);
  const second = stored.indexOf(":", first + 1);
  return {
    expiresAt: Number(stored.slice(MARK.length, first)),
    durationMs: Number(stored.slice(first + 1, second)),
    text: stored.slice(second + 1),
  };
}

/** One key's load: what loading it needs besides the provider context. */
interface LoadRequest<T> {
  readonly fullKey: string;
  readonly leaseKey: string;
  readonly loader: () => Promise<T>;
  readonly ttlMs: number;
  readonly staleMs: number;
  /** The value stored before, if any: served when the loader fails within `staleMs` of its expiry. */
  readonly stale: Envelope | undefined;
}

/** The checked options of one `getOrLoad` call. */
interface LoadSettings {
  readonly ttlMs: number;
  readonly staleMs: number;
  /** XFetch's beta; 0 turns early refresh off. */
  readonly beta: number;
  readonly signal: AbortSignal | undefined;
}

/** Checks the loader and the options of `getOrLoad`, in the order their errors are reported. */
function checkLoadOptions(
  action: string,
  loader: unknown,
  options: GetOrLoadOptions,
): LoadSettings {
  if (typeof loader !== "function") {
    throw new TypeError(`Cannot ${action} as 'loader' must be a function`);
  }
  const ttlMs = requireTtl(action, options?.ttlMs);
  const staleMs = options.staleMs ?? 0;
  if (!Number.isSafeInteger(staleMs) || staleMs < 0) {
    throw new RangeError(
      `Cannot ${action} as 'staleMs' must be a non-negative integer: current value is ${staleMs}`,
    );
  }
  const signal = optionalSignal(action, options.signal);
  signal?.throwIfAborted();
  const beta = options.earlyRefresh === false ? 0 : options.earlyRefresh?.beta ?? 1;
  if (!(beta >= 0)) {
    throw new RangeError(
      `Cannot ${action} as 'earlyRefresh.beta' must be non-negative: current value is ${beta}`,
    );
  }
  return { ttlMs, staleMs, beta, signal };
}

/** Runs `run` unless a load of `fullKey` is under way in this process, whose promise is shared. */
function joinInflight<T>(context: LoadContext, fullKey: string, run: () => Promise<T>): Promise<T> {
  let pending = context.inflight.get(fullKey) as Promise<T> | undefined;
  if (!pending) {
    pending = run().finally(() => context.inflight.delete(fullKey));
    context.inflight.set(fullKey, pending);
  }
  return pending;
}

/** Loads under the cross-instance lease; `waitForOthers` false gives up when another instance loads. */
async function loadUnderLease<T>(
  context: LoadContext,
  request: LoadRequest<T>,
  waitForOthers: boolean,
): Promise<T | undefined> {
  const { driver, logger } = context;
  const owner = crypto.randomUUID();
  let backoffMs = 5;
  for (;;) {
    if (await driver.setNX(request.leaseKey, owner, context.loadLeaseMs)) {
      try {
        return await loadAndStore(context, request);
      } finally {
        await driver.lockRelease(request.leaseKey, owner).catch((error) =>
          logger.warn("could not release the load lease; it expires by itself", {
            key: request.fullKey,
            err: error,
          })
        );
      }
    }
    if (!waitForOthers) return undefined;
    // Another instance is loading: wait for its value, or for its lease to go.
    await sleep(backoffMs * (0.5 + Math.random()));
    backoffMs = Math.min(backoffMs * 2, 100);
    const current = unwrap(await driver.get(request.fullKey));
    if (current && Date.now() < current.expiresAt) {
      return context.serializer.decode(current.text) as T;
    }
  }
}

/** Calls the loader (holding the lease) and stores its value, or serves the stale one. */
async function loadAndStore<T>(context: LoadContext, request: LoadRequest<T>): Promise<T> {
  const { fullKey, ttlMs, staleMs } = request;
  const started = Date.now();
  let value: T;
  try {
    value = await tracedLoad(request.loader);
    context.counters?.loaded.inc();
  } catch (error) {
    return serveStale(context, request, error);
  }
  if (value === undefined) {
    // A read answers undefined for a miss: a stored "nothing" must be a value, null.
    throw new TypeError(
      `Cannot store the value loaded for key '${
        shownKey(fullKey)
      }' as the loader returned undefined: return null to cache "no value"`,
    );
  }
  const text = context.serializer.encode(value, `value loaded for key '${shownKey(fullKey)}'`);
  const now = Date.now();
  await context.driver.set(
    fullKey,
    wrap({ expiresAt: now + ttlMs, durationMs: Math.max(1, now - started), text }),
    ttlMs + staleMs,
  );
  return value;
}

/** After a failed load: the stale value within its grace period, else the loader's error. */
function serveStale<T>(context: LoadContext, request: LoadRequest<T>, error: unknown): T {
  const { stale } = request;
  if (stale && Date.now() < stale.expiresAt + request.staleMs) {
    context.counters?.stale.inc();
    spanEvent("cache stale served");
    context.logger.warn("loader failed; serving the stale value within its grace period", {
      key: request.fullKey,
      err: error,
    });
    return context.serializer.decode(stale.text) as T;
  }
  context.counters?.failed.inc();
  throw error;
}

/** XFetch: refresh early with a probability that grows as expiry nears and as loads get slower. */
function dueForEarlyRefresh(cached: Envelope, beta: number, now: number): boolean {
  return beta > 0 && now - cached.durationMs * beta * Math.log(Math.random()) >= cached.expiresAt;
}

/** Reloads a still-fresh value in the background; provider close awaits it. */
function refreshEarly<T>(context: LoadContext, request: LoadRequest<T>): void {
  const refresh = joinInflight(
    context,
    request.fullKey,
    () => loadUnderLease(context, request, false),
  )
    .catch((error) =>
      context.logger.warn("early refresh failed; the current value stays until it expires", {
        key: request.fullKey,
        err: error,
      })
    );
  context.background.add(refresh);
  refresh.finally(() => context.background.delete(refresh));
}

/**
 * Creates `getOrLoad` over a provider context: in a `cache getOrLoad` span with `cache.hit` (the
 * loader in a child span `cache load`) when an SDK is registered.
 */
export function getOrLoadFunction(context: LoadContext) {
  const plain = plainGetOrLoad(context);
  // Apart from the check: a closure in getOrLoad's own body would allocate on every call.
  const traced = <T>(
    tracer: Tracer,
    key: string,
    loader: () => Promise<T>,
    options: GetOrLoadOptions,
  ): Promise<T> =>
    cacheSpan(
      tracer,
      context.trace,
      "cache getOrLoad",
      "getOrLoad",
      (span) => plain(key, loader, options, span),
    );
  return function getOrLoad<T>(
    key: string,
    loader: () => Promise<T>,
    options: GetOrLoadOptions,
  ): Promise<T> {
    const tracer = kitTracer();
    if (tracer === undefined) return plain(key, loader, options);
    return traced(tracer, key, loader, options);
  };
}

/** `getOrLoad` itself; `span`, when tracing, learns whether the cache answered. */
function plainGetOrLoad(context: LoadContext) {
  return async function getOrLoad<T>(
    key: string,
    loader: () => Promise<T>,
    options: GetOrLoadOptions,
    span?: OtelSpan,
  ): Promise<T> {
    const action = `load key '${key}'`;
    const fullKey = context.keyspace.key(action, key);
    // Out of the callers' reach: a key of theirs cannot hold, free or fake this lease.
    const leaseKey = context.keyspace.internal("load", action, key);
    const { ttlMs, staleMs, beta, signal } = checkLoadOptions(action, loader, options);

    const cached = unwrap(await context.driver.get(fullKey));
    const request: LoadRequest<T> = { fullKey, leaseKey, loader, ttlMs, staleMs, stale: cached };
    const now = Date.now();
    if (cached && now < cached.expiresAt) {
      if (dueForEarlyRefresh(cached, beta, now) && !context.inflight.has(fullKey)) {
        refreshEarly(context, request);
      }
      context.counters?.hit.inc();
      span?.setAttribute("cache.hit", true);
      return context.serializer.decode(cached.text) as T;
    }
    span?.setAttribute("cache.hit", false);
    return await abortable(
      joinInflight(context, fullKey, () => loadUnderLease(context, request, true)),
      signal,
    ) as T;
  };
}
