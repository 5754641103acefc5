/**
 * Distributed locks with fencing tokens, after etcd's concurrency.Mutex: each
 * contender writes a key under the lock's prefix `/locks/{name}/` (with `%` and
 * `/` of the name escaped) on its own lease; the oldest key holds the lock, and
 * its create revision is the fencing token.
 *
 * @module
 */
import { LostError } from "../internal/errors.ts";
import { acquireUnderSignal } from "../internal/acquire.ts";
import { kitTracer } from "../internal/otel.ts";
import {
  call,
  type CallOptions,
  type CoordContext,
  keySegment,
  ownerToken,
  relabel,
  release,
  requireKey,
  requireTtl,
  waitForTurn,
} from "./_util.ts";
import type { Session } from "./session.ts";
import { tracedWait } from "./trace.ts";

/** The reason a lock's `lost` signal fires: its lease was lost while it was held. */
export class LockLostError extends LostError {
  /** Stable code. */
  readonly code = "COORD_LOCK_LOST";
  /** The lock's key. */
  readonly key: string;
  /** The fencing token the lost lock had. */
  readonly token: number;

  /**
   * Creates the error.
   *
   * @param key The lock's key.
   * @param token Its fencing token.
   * @param cause Why the lease was lost.
   */
  constructor(key: string, token: number, cause?: unknown) {
    super(`Lock '${key}' (token ${token}) was lost: its lease is gone`, { cause });
    this.name = "LockLostError";
    this.key = key;
    this.token = token;
  }
}

/** Options of `lock.acquire` and `lock.tryAcquire`. */
export interface AcquireOptions {
  /**
   * Lease TTL: how long the lock outlives a holder that stopped renewing (crash, partition).
   * The provider's `lockTtlMs` by default.
   */
  readonly ttlMs?: number;
  /**
   * Gives up when aborted: the call rejects with the signal's reason at once, and a lock it still
   * gets afterwards is released, never left held for a caller that has gone.
   */
  readonly signal?: AbortSignal;
}

/** A held lock. Kept alive in the background until `unlock()` or loss. */
export interface Lock extends AsyncDisposable {
  /** The lock's key. */
  readonly key: string;
  /** Fencing token: strictly greater for every later holder of this key. Pass it to the resource you protect. */
  readonly token: number;
  /** Fires with a {@linkcode LockLostError} when the lease is lost while held; never after `unlock()`. */
  readonly lost: AbortSignal;
  /** Refreshes the lease now (it is also refreshed automatically). */
  renew(options?: CallOptions): Promise<void>;
  /** Remaining lease time in ms as the backend sees it. */
  ttl(options?: CallOptions): Promise<number>;
  /**
   * Releases the lock. Safe to call twice, and after loss. The release starts even when the signal
   * has already aborted; the signal ends only the wait.
   */
  unlock(options?: CallOptions): Promise<void>;
}

/** Lock acquisition, the `lock` group of a coord provider. */
export interface LockService {
  /**
   * Waits until the lock is acquired.
   *
   * @throws {RangeError} On a TTL below what the driver grants or above what a timer can wait
   * (2³¹−1 ms).
   * @throws The signal's reason when aborted; `LeaseLostError` when the lease is lost while waiting.
   */
  acquire(key: string, options?: AcquireOptions): Promise<Lock>;
  /** Acquires the lock if it is free right now; resolves to null when it is held. */
  tryAcquire(key: string, options?: AcquireOptions): Promise<Lock | null>;
}

const PREFIX = "/locks/";

class HeldLock implements Lock {
  readonly key: string;
  readonly token: number;
  readonly lost: AbortSignal;
  readonly #session: Session;

  constructor(key: string, token: number, session: Session) {
    this.key = key;
    this.token = token;
    this.#session = session;
    this.lost = relabel(session.lost, (reason) => new LockLostError(key, token, reason));
  }

  renew(options?: CallOptions): Promise<void> {
    return call(`renew lock '${this.key}'`, options, async () => {
      if (this.lost.aborted) throw this.lost.reason;
      await this.#session.renew().catch((error) => {
        throw this.lost.aborted ? this.lost.reason : error;
      });
    });
  }

  ttl(options?: CallOptions): Promise<number> {
    return call(
      `read the TTL of lock '${this.key}'`,
      options,
      async () => this.lost.aborted ? 0 : await this.#session.remainingMs(),
    );
  }

  unlock(options?: CallOptions): Promise<void> {
    return release(`unlock '${this.key}'`, options, () => this.#session.close());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unlock();
  }
}

/** Creates the lock service over a provider context. */
export function lockService(context: CoordContext, defaultTtlMs: number): LockService {
  const enqueue = async (action: string, key: string, ttlMs: number | undefined) => {
    requireKey(action, "key", key);
    const ttl = requireTtl(action, ttlMs ?? defaultTtlMs, context.driver);
    const session = await context.openSession(ttl);
    try {
      const prefix = `${PREFIX}${keySegment(key)}/`;
      const myKey = prefix + session.leaseId;
      // One round trip: write our key and learn who holds the lock (etcd's Mutex does the same).
      const result = await context.driver.txn(
        [{ key: myKey, target: "createRevision", op: "==", value: 0 }],
        [{ type: "put", key: myKey, value: ownerToken(), lease: session.leaseId }, {
          type: "oldest",
          prefix,
        }],
        [{ type: "get", key: myKey }, { type: "oldest", prefix }],
      );
      const myRevision = result.succeeded
        ? result.revision
        : result.gets[0]?.createRevision ?? result.revision;
      const held = result.gets.at(-1)?.key === myKey;
      return { session, prefix, myKey, myRevision, held };
    } catch (error) {
      await session.close();
      throw error;
    }
  };

  /** Runs `take` under the caller's signal; a lock that arrives after the caller left is released. */
  const guarded = <T extends Lock | null>(
    action: string,
    key: string,
    signal: unknown,
    take: () => Promise<T>,
  ): Promise<T> =>
    acquireUnderSignal(
      action,
      signal,
      take,
      async (lock) => await lock?.unlock(),
      (error) => context.logger.warn("could not release an abandoned lock", { key, err: error }),
    );

  const acquire = async (key: string, options: AcquireOptions): Promise<Lock> => {
    const { session, prefix, myKey, myRevision, held } = await enqueue(
      `acquire lock '${key}'`,
      key,
      options.ttlMs,
    );
    if (held) return new HeldLock(key, myRevision, session);
    const signals = [session.lost, context.closed];
    if (options.signal) signals.push(options.signal);
    try {
      await waitForTurn(
        context.driver,
        prefix,
        myKey,
        myRevision,
        AbortSignal.any(signals),
        context.logger,
      );
      return new HeldLock(key, myRevision, session);
    } catch (error) {
      await session.close();
      throw error;
    }
  };

  const tryAcquire = async (key: string, options: AcquireOptions): Promise<Lock | null> => {
    const { session, myRevision, held } = await enqueue(
      `try to acquire lock '${key}'`,
      key,
      options.ttlMs,
    );
    if (held) return new HeldLock(key, myRevision, session);
    await session.close();
    return null;
  };

  /** Each method with its span (`lock acquire`, `lock tryAcquire`) when an SDK is registered. */
  const traced = <T extends Lock | null>(
    method: "acquire" | "tryAcquire",
    action: string,
    key: string,
    options: AcquireOptions,
    take: () => Promise<T>,
  ): Promise<T> => {
    const tracer = kitTracer();
    if (tracer === undefined) return guarded(action, key, options.signal, take);
    return tracedWait(
      tracer,
      `lock ${method}`,
      "lock",
      {
        "lock.name": key,
        "db.system": context.driver.name,
      },
      options.signal,
      () => guarded(action, key, options.signal, take),
    );
  };

  return {
    acquire: (key: string, options: AcquireOptions = {}): Promise<Lock> =>
      traced("acquire", `acquire lock '${key}'`, key, options, () => acquire(key, options)),
    tryAcquire: (key: string, options: AcquireOptions = {}): Promise<Lock | null> =>
      traced(
        "tryAcquire",
        `try to acquire lock '${key}'`,
        key,
        options,
        () => tryAcquire(key, options),
      ),
  };
}
