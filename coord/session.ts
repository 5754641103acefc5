/**
 * A session is one lease kept alive in the background, with a `lost` signal
 * that fires when the lease can no longer be trusted: the backend says it is
 * gone, or no keepalive was confirmed for a whole TTL (the backend may have
 * expired it already). Locks, elections, registrations and instance ids each
 * hang off a session, like etcd's concurrency.Session.
 *
 * @module
 */
import { LostError } from "../internal/errors.ts";
import type { Logger } from "../clog/mod.ts";
import { TtlKeeper } from "../internal/keeper.ts";
import { sleep } from "../internal/signal.ts";
import type { CoordDriver } from "./types.ts";

/** The reason a session's `lost` signal fires. */
export class LeaseLostError extends LostError {
  /** Stable code. */
  readonly code: string = "COORD_LEASE_LOST";
  /** The lease that was lost. */
  readonly leaseId: string;

  /**
   * Creates the error.
   *
   * @param leaseId The lease.
   * @param reason Why it counts as lost.
   * @param cause The backend error, if any.
   */
  constructor(leaseId: string, reason: string, cause?: unknown) {
    super(`Lease ${leaseId} was lost: ${reason}`, { cause });
    this.name = "LeaseLostError";
    this.leaseId = leaseId;
  }
}

/** A lease kept alive until closed or lost. */
export class Session {
  /** The lease id. */
  readonly leaseId: string;
  /** The lease TTL the backend granted. */
  readonly ttlMs: number;
  readonly #driver: CoordDriver;
  readonly #logger: Logger;
  readonly #keeper: TtlKeeper;
  #closed = false;
  readonly #closing = new AbortController();
  #cleanup: Promise<void> | undefined;
  #onClose: (() => void) | undefined;

  private constructor(
    driver: CoordDriver,
    leaseId: string,
    ttlMs: number,
    logger: Logger,
    grantedAt: number,
  ) {
    this.#driver = driver;
    this.leaseId = leaseId;
    this.ttlMs = ttlMs;
    this.#logger = logger;
    this.#keeper = new TtlKeeper({
      ttlMs,
      refresh: () => driver.keepAlive(leaseId),
      lostError: (reason, cause) => new LeaseLostError(leaseId, reason, cause),
      logger,
      what: "lease",
      fields: { lease: leaseId },
      confirmedAt: grantedAt,
    });
    this.#keeper.lost.addEventListener("abort", () => {
      // The backend may still hold the lease (etcd refreshes leases when it restarts): revoke it,
      // so nothing we held lingers as a zombie once the backend is reachable again.
      this.#cleanup = this.#revoke(5);
    }, { once: true });
  }

  /**
   * Grants a lease and starts keeping it alive.
   *
   * @param driver The backend.
   * @param ttlMs Lease TTL.
   * @param logger Where keepalive trouble is reported.
   * @param onClose Called once when the session is closed (not when it is lost).
   * @returns The open session.
   */
  static async open(
    driver: CoordDriver,
    ttlMs: number,
    logger: Logger,
    onClose?: () => void,
  ): Promise<Session> {
    const requestedAt = Date.now();
    const lease = await driver.grantLease(ttlMs);
    const session = new Session(driver, lease.id, lease.ttlMs, logger, requestedAt);
    session.#onClose = onClose;
    return session;
  }

  /** Fires with a {@linkcode LeaseLostError} when the lease is lost; never after a clean close. */
  get lost(): AbortSignal {
    return this.#keeper.lost;
  }

  /** Whether the session is closed or lost. */
  get done(): boolean {
    return this.#closed || this.#keeper.done;
  }

  /**
   * Refreshes the lease now.
   *
   * @throws {LeaseLostError} When the lease is gone.
   */
  async renew(): Promise<void> {
    this.#throwIfClosed();
    await this.#keeper.renew();
  }

  /**
   * Remaining time to live of the lease as the backend sees it.
   *
   * @returns Milliseconds; 0 when the lease is gone.
   */
  async remainingMs(): Promise<number> {
    if (this.lost.aborted) throw this.lost.reason;
    this.#throwIfClosed();
    return await this.#driver.leaseTimeToLive(this.leaseId);
  }

  /** Stops the keepalives and revokes the lease (deleting its keys). */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#onClose?.();
      this.#closing.abort();
      const wasLost = this.#keeper.lost.aborted;
      this.#keeper.stop();
      if (!wasLost) this.#cleanup = this.#revoke(1);
    }
    await this.#cleanup;
  }

  #throwIfClosed(): void {
    if (this.#closed) throw new LeaseLostError(this.leaseId, "the session is closed");
  }

  async #revoke(attempts: number): Promise<void> {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        await this.#driver.revokeLease(this.leaseId);
        return;
      } catch (error) {
        // After close() one more try is all we owe: the lease expires by its TTL anyway.
        if (attempt === attempts || this.#closing.signal.aborted) {
          this.#logger.warn("could not revoke lease; it expires by its TTL", {
            lease: this.leaseId,
            err: error,
          });
          return;
        }
        await sleep(Math.min(200 * 2 ** attempt, this.ttlMs), this.#closing.signal).catch(() => {});
      }
    }
  }
}
