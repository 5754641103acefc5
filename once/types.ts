/**
 * The once driver interface: one record per key with three states — absent,
 * in progress (owned by a token, under a lock TTL) and done (with the stored
 * outcome, under the result TTL) — changed only by atomic operations.
 *
 * @module
 */

/** What a finished run left behind. */
export interface OnceOutcome {
  /** `ok` with a serialized result, or `error` with a serialized error (when failures are cached). */
  readonly status: "ok" | "error";
  /** Serialized result or error. */
  readonly payload: string;
}

/** The state of a key as `begin` found it. */
export type BeginResult =
  | { readonly state: "acquired" }
  | { readonly state: "in-progress"; readonly fingerprint: string }
  | { readonly state: "done"; readonly fingerprint: string; readonly outcome: OnceOutcome };

/** A once backend. */
export interface OnceDriver {
  /** Name for errors and logs: `memory`, `redis`. */
  readonly name: string;
  /**
   * Marks `key` in progress for `token` if absent (atomic); otherwise reports its state.
   * The in-progress mark expires after `lockTtlMs` unless renewed.
   */
  begin(key: string, token: string, fingerprint: string, lockTtlMs: number): Promise<BeginResult>;
  /** Extends the in-progress mark if `token` still owns it; resolves to the TTL, or 0 if not. */
  renew(key: string, token: string, lockTtlMs: number): Promise<number>;
  /** Stores the outcome for `ttlMs` if `token` still owns the key; resolves to whether it did. */
  complete(key: string, token: string, outcome: OnceOutcome, ttlMs: number): Promise<boolean>;
  /** Deletes the key if `token` still owns it (a failed run, so a retry can run). */
  abandon(key: string, token: string): Promise<void>;
  /** Checks that the backend answers; rejects with a `DriverError` when it does not. */
  ping(): Promise<void>;
  /** Releases timers and connections. */
  close(): Promise<void>;
}
