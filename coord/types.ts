/**
 * The coord driver interface: etcd's data model (revisioned keys, leases,
 * transactions, watches) reduced to what the provider needs. The provider
 * builds registry, config center, locks, elections and instance ids on top of
 * it, once, for every driver.
 *
 * @module
 */

/** One stored key, with etcd's revision bookkeeping. */
export interface KeyValue {
  /** The key. */
  readonly key: string;
  /** The stored text. */
  readonly value: string;
  /** Revision at which the key was created; increases across creations of any key. */
  readonly createRevision: number;
  /** Revision of the last change of this key. */
  readonly modRevision: number;
  /** Number of changes since creation (1 after creation). */
  readonly version: number;
  /** Lease the key is attached to, if any. */
  readonly lease: string | undefined;
}

/** A condition of a transaction. */
export type Compare =
  | {
    readonly key: string;
    readonly target: "createRevision" | "modRevision" | "version";
    readonly op: "==" | "!=" | "<" | ">";
    readonly value: number;
  }
  | {
    readonly key: string;
    readonly target: "value";
    readonly op: "==" | "!=";
    readonly value: string;
  };

/** An operation of a transaction. */
export type TxnOp =
  | { readonly type: "put"; readonly key: string; readonly value: string; readonly lease?: string }
  | { readonly type: "delete"; readonly key: string }
  | { readonly type: "get"; readonly key: string }
  /** The key with the lowest create revision under `prefix` (the holder of a lock, the leader). */
  | { readonly type: "oldest"; readonly prefix: string };

/** Outcome of a transaction. */
export interface TxnResult {
  /** Whether every comparison held (and the success branch ran). */
  readonly succeeded: boolean;
  /** Store revision after the transaction. */
  readonly revision: number;
  /** For each `get` and `oldest` of the branch that ran, the key found (in order). */
  readonly gets: readonly (KeyValue | undefined)[];
}

/** A change of one key, as a watch delivers it. */
export interface WatchEvent {
  /** `put` for a creation or update, `delete` for a deletion (also by lease expiry). */
  readonly type: "put" | "delete";
  /** The key. */
  readonly key: string;
  /** The new value; empty for a delete. */
  readonly value: string;
  /** Revision of this change. */
  readonly revision: number;
  /** Creation revision of the key (for puts). */
  readonly createRevision: number;
}

/** Events of one revision range, in order. */
export interface WatchBatch {
  /** Store revision this batch brings the watcher to. */
  readonly revision: number;
  /** The changes, oldest first. */
  readonly events: readonly WatchEvent[];
}

/** What a driver's watch observes. */
export interface WatchTarget {
  /** The key, or the key prefix when `prefix` is true. */
  readonly key: string;
  /** Watch every key starting with `key`. */
  readonly prefix: boolean;
}

/** Thrown by a driver's watch when the requested start revision was compacted away. */
export class CompactedError extends Error {
  /** Stable code. */
  readonly code = "COORD_COMPACTED";
  /** The oldest revision still available. */
  readonly compactRevision: number;

  /**
   * Creates the error.
   *
   * @param compactRevision The oldest revision still available.
   */
  constructor(compactRevision: number) {
    super(`Cannot watch from a compacted revision: history starts at ${compactRevision}`);
    this.name = "CompactedError";
    this.compactRevision = compactRevision;
  }
}

/**
 * A coordination backend. Every method rejects with a `DriverError` when the
 * backend fails or cannot be reached.
 */
export interface CoordDriver {
  /** Name for errors and logs: `memory`, `etcd`. */
  readonly name: string;
  /** Smallest lease TTL the backend grants as asked; a smaller one is rejected by the provider. */
  readonly minLeaseTtlMs: number;
  /** Lease TTLs are whole multiples of this (1000 for etcd). */
  readonly leaseTtlGranularityMs: number;
  /** Checks the backend answers; used by `create` to fail fast. */
  ping(): Promise<void>;
  /** One key, or undefined. */
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key with the prefix, sorted by key, and the revision they were read at. */
  list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }>;
  /** Writes a key, optionally attached to a lease; returns the new revision. */
  put(key: string, value: string, lease?: string): Promise<number>;
  /** Deletes a key; returns whether it existed. */
  delete(key: string): Promise<boolean>;
  /** Runs `success` when every comparison holds, else `failure`, atomically. */
  txn(
    compares: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[],
  ): Promise<TxnResult>;
  /** Grants a lease; keys attached to it are deleted when it expires or is revoked. */
  grantLease(ttlMs: number): Promise<{ id: string; ttlMs: number }>;
  /** Refreshes a lease; returns its TTL in ms, or 0 when the lease no longer exists. */
  keepAlive(id: string): Promise<number>;
  /** Remaining time to live of a lease in ms, or 0 when it no longer exists. */
  leaseTimeToLive(id: string): Promise<number>;
  /** Revokes a lease, deleting its keys. Revoking a lease that is gone is not an error. */
  revokeLease(id: string): Promise<void>;
  /**
   * Changes of `target` from revision `fromRevision` on, in order, until `signal`
   * aborts (the iteration then ends). Throws {@linkcode CompactedError} when
   * `fromRevision` is no longer available, and a `DriverError` when the backend is lost.
   */
  watch(target: WatchTarget, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchBatch>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}
