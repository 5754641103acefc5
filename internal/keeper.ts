/**
 * Keeps something with a TTL alive (an etcd lease, a Redis lock key) by
 * refreshing it every third of its TTL, and decides when it must be
 * considered lost: the backend says it is gone, or no refresh was confirmed
 * for a whole TTL (the backend may have expired it already).
 *
 * @module
 */
/** What the keeper logs through: clog's `Logger` is one (internal/ imports no component). */
export interface WarnLogger {
  /** Logs a warning with fields. */
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@linkcode TtlKeeper}. */
export interface TtlKeeperOptions {
  /** The TTL granted. */
  readonly ttlMs: number;
  /** Refreshes the TTL; resolves to the new TTL in ms, or 0 when the thing is gone. */
  readonly refresh: () => Promise<number>;
  /** Builds the `lost` reason. */
  readonly lostError: (reason: string, cause?: unknown) => Error;
  /** Where refresh trouble is reported. */
  readonly logger: WarnLogger;
  /** What is kept, for log lines: `lease`, `lock`. */
  readonly what: string;
  /** Fields that identify the thing in log lines. */
  readonly fields: Readonly<Record<string, unknown>>;
  /** When the TTL was last confirmed (the request time of the grant). */
  readonly confirmedAt: number;
}

/** Background refresher with a `lost` signal. */
export class TtlKeeper {
  readonly #options: TtlKeeperOptions;
  readonly #controller = new AbortController();
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /**
   * Starts refreshing at once.
   *
   * @param options TTL, refresh function and how to report.
   */
  constructor(options: TtlKeeperOptions) {
    this.#options = options;
    this.#confirm(options.confirmedAt, options.ttlMs);
    this.#schedule(options.ttlMs / 3);
  }

  /** Fires with the `lostError` when lost; never after {@linkcode TtlKeeper.stop}. */
  get lost(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether refreshing ended, by stop or loss. */
  get done(): boolean {
    return this.#stopped || this.#controller.signal.aborted;
  }

  /**
   * Refreshes now.
   *
   * @throws The `lost` reason when the thing is gone.
   */
  async renew(): Promise<void> {
    if (this.lost.aborted) throw this.lost.reason;
    const sentAt = Date.now();
    const ttlMs = await this.#options.refresh();
    if (ttlMs <= 0) {
      this.lose("the backend no longer has it");
      throw this.lost.reason;
    }
    this.#confirm(sentAt, ttlMs);
  }

  /** Stops refreshing without firing `lost`. */
  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
  }

  /** Fires `lost` now. */
  lose(reason: string, cause?: unknown): void {
    if (this.done) return;
    this.#clearTimers();
    this.#options.logger.warn(`${this.#options.what} lost`, { ...this.#options.fields, reason });
    this.#controller.abort(this.#options.lostError(reason, cause));
  }

  #confirm(sentAt: number, ttlMs: number): void {
    if (this.done) return;
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    // The backend counts the TTL from when it got the refresh, which is after sentAt.
    this.#deadlineTimer = setTimeout(
      () => this.lose(`no refresh was confirmed within its ${this.#options.ttlMs} ms TTL`),
      Math.max(0, sentAt + ttlMs - Date.now()),
    );
  }

  #schedule(delayMs: number): void {
    if (this.done) return;
    this.#refreshTimer = setTimeout(() => this.#refresh(), delayMs);
  }

  async #refresh(): Promise<void> {
    this.#refreshTimer = undefined;
    if (this.done) return;
    const sentAt = Date.now();
    try {
      const ttlMs = await this.#options.refresh();
      if (ttlMs <= 0) return this.lose("the backend no longer has it");
      this.#confirm(sentAt, ttlMs);
      this.#schedule(this.#options.ttlMs / 3);
    } catch (error) {
      if (this.done) return;
      this.#options.logger.warn(
        `${this.#options.what} refresh failed; retrying until the TTL runs out`,
        {
          ...this.#options.fields,
          err: error,
        },
      );
      this.#schedule(Math.min(this.#options.ttlMs / 6, 500));
    }
  }

  #clearTimers(): void {
    if (this.#refreshTimer !== undefined) clearTimeout(this.#refreshTimer);
    if (this.#deadlineTimer !== undefined) clearTimeout(this.#deadlineTimer);
    this.#refreshTimer = this.#deadlineTimer = undefined;
  }
}
