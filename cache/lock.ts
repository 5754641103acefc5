/**
 * Locks on the cache backend, for services without etcd: a random owner token
 * set with NX and a TTL, compare-and-delete unlock, renewal every third of the
 * TTL while held, a fencing token from a counter incremented in the same
 * atomic step, and a `lost` signal.
 *
 * @module
 */
import { LostError } from "../internal/errors.ts";
import type { Logger } from "../clog/mod.ts";
import { TtlKeeper } from "../internal/keeper.ts";
import { acquireUnderSignal } from "../internal/acquire.ts";
import { releaseUnderSignal, sleep, underSignalOption } from "../internal/signal.ts";
import { kitTracer } from "../internal/otel.ts";
import { type Keyspace, keyspace, MAX_TIMER_MS, requireTtl } from "./_util.ts";
import { cacheSpan, type Tracer } from "./trace.ts";
import type { CacheDriver } from "./types.ts";

/** The reason a cache lock's `lost` signal fires. */
export class CacheLockLostError extends LostError {
  /** Stable code. */
  readonly code = "CACHE_LOCK_LOST";
  /** The lock's key. */
  readonly key: string;
  /** The fencing token the lost lock had. */
  readonly token: number;

  /**
   * Creates the error.
   *
   * @param key The lock's key.
   * @param token Its fencing token.
   * @param reason Why it counts as lost.
   * @param cause The backend error, if any.
   */
  constructor(key: string, token: number, reason: string, cause?: unknown) {
    super(`Lock '${key}' (token ${token}) was lost: ${reason}`, { cause });
    this.name = "CacheLockLostError";
    this.key = key;
    this.token = token;
  }
}

/** A held cache lock. */
export interface CacheLock extends AsyncDisposable {
  /** The lock's key (without the cache prefix). */
  readonly key: string;
  /** Fencing token: strictly greater for every later holder of this key. */
  readonly token: number;
  /** Fires with a {@linkcode CacheLockLostError} when the lock is lost while held; never after `unlock()`. */
  readonly lost: AbortSignal;
  /** Extends the lock now (it is also extended automatically). */
  renew(options?: CacheLockCallOptions): Promise<void>;
  /**
   * Releases the lock if still held. Safe to call twice, and after loss. The release starts even
   * when the signal has already aborted; the signal ends only the wait.
   */
  unlock(options?: CacheLockCallOptions): Promise<void>;
}

/** Options of a held lock's `renew` and `unlock`. */
export interface CacheLockCallOptions {
  /**
   * Ends the wait with the signal's reason. Once it has aborted, `renew` sends nothing, while
   * `unlock` still releases the lock.
   */
  readonly signal?: AbortSignal;
}

/** Options of `lock.acquire` and `lock.tryAcquire`. */
export interface CacheLockOptions {
  /**
   * How long the lock outlives a holder that stopped renewing; the provider's `lockTtlMs` by
   * default. At most 2147483647 ms (about 24.8 days, the longest timer delay).
   */
  readonly ttlMs?: number;
  /**
   * Gives up when aborted: the call rejects with the signal's reason at once, and a lock it still
   * gets afterwards is released, never left held for a caller that has gone.
   */
  readonly signal?: AbortSignal;
}

/** The `lock` group of a cache provider (and what `redisLock()` returns). */
export interface CacheLockService {
  /** Waits until acquired, polling with backoff; rejects with the signal's reason when aborted. */
  acquire(key: string, options?: CacheLockOptions): Promise<CacheLock>;
  /** Acquires if free right now; resolves to null when held. */
  tryAcquire(key: string, options?: CacheLockOptions): Promise<CacheLock | null>;
}

/** What the lock service needs from its provider. */
export interface LockContext {
  /** Name of the driver in use. */
  readonly driver: CacheDriver;
  /** Where lock trouble is reported. */
  readonly logger: Logger;
  /** Where lock and fencing keys live: beside the cache's keys, out of their reach. */
  readonly keyspace: Keyspace;
  /** TTL when the caller gives none (checked by the caller). */
  readonly defaultTtlMs: number;
  /** Held locks, released on provider close. */
  readonly held: Set<CacheLock>;
  /**
   * What the `lock acquire` spans say of the service: driver and key prefix.
   * @default {{ system: driver.name, keyPrefix: "" }}
   */
  readonly trace?: { readonly system: string; readonly keyPrefix: string };
}

/**
 * Creates the lock service: `acquire` and `tryAcquire` in a client span `lock acquire` (with
 * `lock.acquired`) when an SDK is registered. The lock's name is left out: it can hold user ids.
 */
export function cacheLockService(context: LockContext): CacheLockService {
  const plain = plainLockService(context);
  const trace = context.trace ?? { system: context.driver.name, keyPrefix: "" };
  // Apart from the checks: a closure in acquire's own body would allocate on every call.
  const traced = (
    tracer: Tracer,
    operation: "acquire" | "tryAcquire",
    key: string,
    options: CacheLockOptions | undefined,
  ) =>
    cacheSpan(tracer, trace, "lock acquire", operation, async (span) => {
      const lock = await (operation === "acquire"
        ? plain.acquire(key, options)
        : plain.tryAcquire(key, options));
      span.setAttribute("lock.acquired", lock !== null);
      return lock;
    });
  return {
    acquire: (key, options) => {
      const tracer = kitTracer();
      if (tracer === undefined) return plain.acquire(key, options);
      return traced(tracer, "acquire", key, options) as Promise<CacheLock>;
    },
    tryAcquire: (key, options) => {
      const tracer = kitTracer();
      if (tracer === undefined) return plain.tryAcquire(key, options);
      return traced(tracer, "tryAcquire", key, options);
    },
  };
}

/** The lock service itself. */
function plainLockService(context: LockContext): CacheLockService {
  const { driver, logger } = context;

  const attempt = async (key: string, ttlMs: number, action: string): Promise<CacheLock | null> => {
    const lockKey = context.keyspace.internal("lock", action, key);
    const fenceKey = context.keyspace.internal("fence", action, key);
    const owner = crypto.randomUUID();
    const requestedAt = Date.now();
    const token = await driver.lockAcquire(lockKey, fenceKey, owner, ttlMs);
    if (token === undefined) return null;
    const keeper = new TtlKeeper({
      ttlMs,
      refresh: () => driver.lockRenew(lockKey, owner, ttlMs),
      lostError: (reason, cause) => new CacheLockLostError(key, token, reason, cause),
      logger,
      what: "lock",
      fields: { lock: key, token },
      confirmedAt: requestedAt,
    });
    let released: Promise<void> | undefined;
    const unlock = (): Promise<void> =>
      released ??= (async () => {
        context.held.delete(lock);
        const wasLost = keeper.lost.aborted;
        keeper.stop();
        if (wasLost) return;
        // Compare-and-delete: a lock that expired and was taken by someone else is left alone.
        await driver.lockRelease(lockKey, owner).catch((error) =>
          logger.warn("could not release lock; it expires by its TTL", { lock: key, err: error })
        );
      })();
    const lock: CacheLock = {
      key,
      token,
      lost: keeper.lost,
      renew: (options) =>
        underSignalOption(`renew lock '${key}'`, options?.signal, () => keeper.renew()),
      unlock: (options) => releaseUnderSignal(`unlock '${key}'`, options?.signal, unlock),
      [Symbol.asyncDispose]: unlock,
    };
    context.held.add(lock);
    return lock;
  };

  /** Runs `take` under the caller's signal; a lock that arrives after the caller left is released. */
  const guarded = <T extends CacheLock | null>(
    action: string,
    key: string,
    options: CacheLockOptions,
    take: (ttlMs: number) => Promise<T>,
  ): Promise<T> => {
    let ttlMs: number;
    try {
      // Renewal and loss detection run on timers, which cannot wait longer than MAX_TIMER_MS.
      ttlMs = requireTtl(action, options.ttlMs ?? context.defaultTtlMs, false, MAX_TIMER_MS);
    } catch (error) {
      return Promise.reject(error);
    }
    return acquireUnderSignal(
      action,
      options.signal,
      () => take(ttlMs),
      async (lock) => await lock?.unlock(),
      (error) => logger.warn("could not release an abandoned lock", { lock: key, err: error }),
    );
  };

  return {
    acquire(key: string, options: CacheLockOptions = {}): Promise<CacheLock> {
      const action = `acquire lock '${key}'`;
      const { signal } = options;
      return guarded(action, key, options, async (ttlMs) => {
        let backoffMs = 10;
        for (;;) {
          signal?.throwIfAborted();
          const lock = await attempt(key, ttlMs, action);
          if (lock) return lock;
          // Jittered backoff keeps waiters from polling in lockstep.
          await sleep(backoffMs * (0.5 + Math.random()), signal);
          backoffMs = Math.min(backoffMs * 2, 250);
        }
      });
    },
    tryAcquire(key: string, options: CacheLockOptions = {}): Promise<CacheLock | null> {
      const action = `try to acquire lock '${key}'`;
      return guarded(action, key, options, (ttlMs) => attempt(key, ttlMs, action));
    },
  };
}

/** A lock service with a driver of its own, which it closes: what `redisLock()` returns. */
export interface ClosableLockService extends CacheLockService, AsyncDisposable {
  /** Releases held locks, then closes the driver. Safe to call twice. */
  close(): Promise<void>;
}

/** Options of {@linkcode createLockService}. */
export interface CreateLockServiceOptions {
  /** What the caller is creating, for error messages: `"create Redis lock"`. */
  readonly creating: string;
  /**
   * Namespace of the lock keys, laid out as a cache's (`keyspace`): the locks of a cache
   * provider with the same `keyPrefix`.
   * @default {""}
   */
  readonly keyPrefix?: string;
  /**
   * Default lock TTL, at most 2147483647 ms (the longest timer delay).
   * @default {10000}
   */
  readonly ttlMs?: number;
  /** Where lock trouble is reported. */
  readonly logger: Logger;
}

/**
 * Creates a lock service without a cache provider, over any lock-capable cache driver: the
 * same locks as a provider's `lock` group, on the keys a provider with that `keyPrefix` uses.
 *
 * @param options Key prefix, default TTL and logger, checked before the driver is opened.
 * @param openDriver Opens the driver; it is pinged, and closed again when it does not answer.
 * @returns The lock service, owning the driver.
 * @throws {TypeError | RangeError} On an invalid key prefix or TTL.
 */
export async function createLockService(
  options: CreateLockServiceOptions,
  openDriver: () => CacheDriver,
): Promise<ClosableLockService> {
  const { creating, logger } = options;
  const space = keyspace(options.keyPrefix ?? "", creating);
  const defaultTtlMs = requireTtl(creating, options.ttlMs ?? 10_000, false, MAX_TIMER_MS);
  const driver = openDriver();
  try {
    await driver.ping();
  } catch (error) {
    await driver.close();
    throw error;
  }
  const held = new Set<CacheLock>();
  const service = cacheLockService({
    driver,
    logger,
    keyspace: space,
    defaultTtlMs,
    held,
    trace: { system: driver.name, keyPrefix: options.keyPrefix ?? "" },
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await Promise.all([...held].map((lock) => lock.unlock()));
      await driver.close();
    })();
  return { ...service, close, [Symbol.asyncDispose]: close };
}
