/**
 * The standalone coord driver: an in-process model of etcd's key space with
 * revisions, leases that expire, transactions and watches with a bounded
 * history (older start revisions are compacted, as in etcd).
 *
 * @module
 */
import { DriverError } from "../internal/errors.ts";
import { AsyncQueue } from "../internal/async_queue.ts";
import {
  CompactedError,
  type Compare,
  type CoordDriver,
  type KeyValue,
  type TxnOp,
  type TxnResult,
  type WatchBatch,
  type WatchEvent,
  type WatchTarget,
} from "./types.ts";

interface Lease {
  ttlMs: number;
  expiresAt: number;
  keys: Set<string>;
}

interface Watcher {
  target: WatchTarget;
  queue: AsyncQueue<WatchBatch>;
  client: MemoryCoordDriver;
}

/** Options of {@linkcode MemoryCoordStore}. */
export interface MemoryCoordStoreOptions {
  /**
   * Revisions of history kept for watches that start in the past; older ones are compacted.
   * @default {10000}
   */
  readonly historyRevisions?: number;
}

function matches(target: WatchTarget, key: string): boolean {
  return target.prefix ? key.startsWith(target.key) : key === target.key;
}

/**
 * The shared state behind memory drivers: the "server". Several drivers
 * created on one store behave like several clients of one etcd cluster.
 */
export class MemoryCoordStore {
  #revision = 1;
  #compactRevision = 1;
  readonly #kvs = new Map<string, KeyValue>();
  readonly #leases = new Map<string, Lease>();
  readonly #history: WatchBatch[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #historyRevisions: number;
  #nextLeaseId = 0x1000 + Math.floor(Math.random() * 0x10000);
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #expiryAt = Infinity;

  /**
   * Creates an empty store.
   *
   * @param options History size.
   */
  constructor(options: MemoryCoordStoreOptions = {}) {
    this.#historyRevisions = options.historyRevisions ?? 10_000;
  }

  /** Current revision. */
  get revision(): number {
    return this.#revision;
  }

  /** Drops history up to `revision`, as `etcdctl compact` does. */
  compact(revision: number = this.#revision): void {
    this.#compactRevision = Math.max(this.#compactRevision, Math.min(revision, this.#revision));
    while (this.#history.length > 0 && this.#history[0].revision < this.#compactRevision) {
      this.#history.shift();
    }
  }

  /** @internal */
  get(key: string): KeyValue | undefined {
    this.#expireDue();
    return this.#kvs.get(key);
  }

  /** @internal */
  list(prefix: string): { kvs: KeyValue[]; revision: number } {
    this.#expireDue();
    const kvs: KeyValue[] = [];
    for (const kv of this.#kvs.values()) if (kv.key.startsWith(prefix)) kvs.push(kv);
    kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { kvs, revision: this.#revision };
  }

  /** @internal */
  txn(
    compares: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[],
  ): TxnResult {
    this.#expireDue();
    const succeeded = compares.every((compare) => this.#holds(compare));
    const ops = succeeded ? success : failure;
    for (const op of ops) {
      if (op.type === "put" && op.lease !== undefined && !this.#leases.has(op.lease)) {
        throw new Error(`lease ${op.lease} not found`);
      }
    }
    const gets: (KeyValue | undefined)[] = [];
    const events: WatchEvent[] = [];
    const revision = this.#revision + 1;
    for (const op of ops) {
      if (op.type === "get") gets.push(this.#kvs.get(op.key));
      else if (op.type === "oldest") gets.push(this.#oldest(op.prefix));
      else if (op.type === "put") events.push(this.#put(op.key, op.value, op.lease, revision));
      else {
        const event = this.#delete(op.key, revision);
        if (event) events.push(event);
      }
    }
    if (events.length > 0) this.#commit(revision, events);
    return { succeeded, revision: this.#revision, gets };
  }

  /** @internal */
  grantLease(ttlMs: number): { id: string; ttlMs: number } {
    const id = (this.#nextLeaseId++).toString();
    this.#leases.set(id, { ttlMs, expiresAt: Date.now() + ttlMs, keys: new Set() });
    this.#armExpiry();
    return { id, ttlMs };
  }

  /** @internal */
  keepAlive(id: string): number {
    this.#expireDue();
    const lease = this.#leases.get(id);
    if (!lease) return 0;
    lease.expiresAt = Date.now() + lease.ttlMs;
    this.#armExpiry();
    return lease.ttlMs;
  }

  /** @internal */
  leaseTimeToLive(id: string): number {
    this.#expireDue();
    const lease = this.#leases.get(id);
    return lease ? Math.max(1, lease.expiresAt - Date.now()) : 0;
  }

  /** @internal */
  revokeLease(id: string): void {
    this.#expireDue();
    this.#removeLease(id);
  }

  /** @internal */
  watch(
    target: WatchTarget,
    fromRevision: number,
    client: MemoryCoordDriver,
    signal: AbortSignal,
  ): AsyncIterable<WatchBatch> {
    this.#expireDue();
    if (fromRevision < this.#compactRevision) throw new CompactedError(this.#compactRevision);
    const watcher: Watcher = {
      target,
      client,
      queue: new AsyncQueue<WatchBatch>(() => this.#watchers.delete(watcher)),
    };
    for (const batch of this.#history) {
      if (batch.revision < fromRevision) continue;
      const events = batch.events.filter((event) => matches(target, event.key));
      if (events.length > 0) watcher.queue.push({ revision: batch.revision, events });
    }
    this.#watchers.add(watcher);
    const stop = () => {
      this.#watchers.delete(watcher);
      watcher.queue.end();
    };
    if (signal.aborted) stop();
    else signal.addEventListener("abort", stop, { once: true });
    return watcher.queue;
  }

  /** @internal Fails every watch of `client`, as a dropped connection would. */
  failWatches(client: MemoryCoordDriver, error: Error): void {
    for (const watcher of this.#watchers) {
      if (watcher.client !== client) continue;
      this.#watchers.delete(watcher);
      watcher.queue.fail(error);
    }
  }

  #oldest(prefix: string): KeyValue | undefined {
    let oldest: KeyValue | undefined;
    for (const kv of this.#kvs.values()) {
      if (kv.key.startsWith(prefix) && (!oldest || kv.createRevision < oldest.createRevision)) {
        oldest = kv;
      }
    }
    return oldest;
  }

  #holds(compare: Compare): boolean {
    const kv = this.#kvs.get(compare.key);
    if (compare.target === "value") {
      if (!kv) return false;
      return compare.op === "==" ? kv.value === compare.value : kv.value !== compare.value;
    }
    const actual = kv ? kv[compare.target] : 0;
    switch (compare.op) {
      case "==":
        return actual === compare.value;
      case "!=":
        return actual !== compare.value;
      case "<":
        return actual < compare.value;
      case ">":
        return actual > compare.value;
    }
  }

  #put(key: string, value: string, lease: string | undefined, revision: number): WatchEvent {
    const previous = this.#kvs.get(key);
    if (previous?.lease !== undefined && previous.lease !== lease) {
      this.#leases.get(previous.lease)?.keys.delete(key);
    }
    if (lease !== undefined) this.#leases.get(lease)?.keys.add(key);
    const kv: KeyValue = Object.freeze({
      key,
      value,
      createRevision: previous?.createRevision ?? revision,
      modRevision: revision,
      version: (previous?.version ?? 0) + 1,
      lease,
    });
    this.#kvs.set(key, kv);
    return { type: "put", key, value, revision, createRevision: kv.createRevision };
  }

  #delete(key: string, revision: number): WatchEvent | undefined {
    const previous = this.#kvs.get(key);
    if (!previous) return undefined;
    this.#kvs.delete(key);
    if (previous.lease !== undefined) this.#leases.get(previous.lease)?.keys.delete(key);
    return { type: "delete", key, value: "", revision, createRevision: previous.createRevision };
  }

  #commit(revision: number, events: WatchEvent[]): void {
    this.#revision = revision;
    const batch: WatchBatch = { revision, events };
    this.#history.push(batch);
    if (this.#history.length > this.#historyRevisions) this.compact(this.#history[1].revision);
    for (const watcher of this.#watchers) {
      const mine = events.filter((event) => matches(watcher.target, event.key));
      if (mine.length > 0) watcher.queue.push({ revision, events: mine });
    }
  }

  #removeLease(id: string): void {
    const lease = this.#leases.get(id);
    if (!lease) return;
    this.#leases.delete(id);
    const revision = this.#revision + 1;
    const events: WatchEvent[] = [];
    for (const key of lease.keys) {
      const event = this.#delete(key, revision);
      if (event) events.push(event);
    }
    if (events.length > 0) this.#commit(revision, events);
    this.#armExpiry();
  }

  #expireDue(): void {
    const now = Date.now();
    if (now < this.#expiryAt) return;
    for (const [id, lease] of this.#leases) if (lease.expiresAt <= now) this.#removeLease(id);
    this.#armExpiry();
  }

  /** Keeps one timer set for the earliest lease expiry, so expired keys vanish (and watchers hear it) on time. */
  #armExpiry(): void {
    let earliest = Infinity;
    for (const lease of this.#leases.values()) earliest = Math.min(earliest, lease.expiresAt);
    if (earliest === this.#expiryAt) return;
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = earliest;
    if (earliest === Infinity) return;
    this.#expiryTimer = setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = -Infinity;
      this.#expireDue();
    }, Math.max(0, earliest - Date.now()));
    Deno.unrefTimer(this.#expiryTimer);
  }
}

/** Options of {@linkcode memoryCoord}. */
export interface MemoryCoordOptions {
  /** Share one store between several drivers (two providers on one backend); a new store by default. */
  readonly store?: MemoryCoordStore;
}

/**
 * A memory driver: one client of a {@linkcode MemoryCoordStore}. It can be cut
 * off from its store (`setReachable(false)`), so tests can simulate a network
 * partition or a crashed holder.
 */
export class MemoryCoordDriver implements CoordDriver {
  /** Always `memory`. */
  readonly name = "memory";
  /** Leases of any length are exact here. */
  readonly minLeaseTtlMs = 1;
  /** Millisecond leases. */
  readonly leaseTtlGranularityMs = 1;
  /** The store this client talks to. */
  readonly store: MemoryCoordStore;
  #reachable = true;
  #closed = false;

  /**
   * Creates a client of `store`.
   *
   * @param store The store to use.
   */
  constructor(store: MemoryCoordStore = new MemoryCoordStore()) {
    this.store = store;
  }

  /**
   * Cuts this client off from its store, or reconnects it. While cut off every
   * call fails with a `DriverError` and its watches fail, as on a network partition.
   */
  setReachable(reachable: boolean): void {
    this.#reachable = reachable;
    if (!reachable) this.store.failWatches(this, this.#error("watch"));
  }

  #error(operation: string): DriverError {
    return new DriverError(
      this.name,
      operation,
      new Error(
        this.#closed ? "the driver is closed" : "the store is unreachable (simulated partition)",
      ),
    );
  }

  #run<T>(operation: string, fn: () => T): Promise<T> {
    if (this.#closed || !this.#reachable) return Promise.reject(this.#error(operation));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(
        error instanceof DriverError ? error : new DriverError(this.name, operation, error),
      );
    }
  }

  ping(): Promise<void> {
    return this.#run("ping", () => {});
  }
  get(key: string): Promise<KeyValue | undefined> {
    return this.#run("get", () => this.store.get(key));
  }
  list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    return this.#run("list", () => this.store.list(prefix));
  }
  put(key: string, value: string, lease?: string): Promise<number> {
    return this.#run(
      "put",
      () => this.store.txn([], [{ type: "put", key, value, lease }], []).revision,
    );
  }
  delete(key: string): Promise<boolean> {
    return this.#run("delete", () => {
      const existed = this.store.get(key) !== undefined;
      this.store.txn([], [{ type: "delete", key }], []);
      return existed;
    });
  }
  txn(
    compares: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[],
  ): Promise<TxnResult> {
    return this.#run("txn", () => this.store.txn(compares, success, failure));
  }
  grantLease(ttlMs: number): Promise<{ id: string; ttlMs: number }> {
    return this.#run("grantLease", () => this.store.grantLease(ttlMs));
  }
  keepAlive(id: string): Promise<number> {
    return this.#run("keepAlive", () => this.store.keepAlive(id));
  }
  leaseTimeToLive(id: string): Promise<number> {
    return this.#run("leaseTimeToLive", () => this.store.leaseTimeToLive(id));
  }
  revokeLease(id: string): Promise<void> {
    return this.#run("revokeLease", () => this.store.revokeLease(id));
  }
  watch(target: WatchTarget, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchBatch> {
    if (this.#closed || !this.#reachable) throw this.#error("watch");
    return this.store.watch(target, fromRevision, this, signal);
  }
  close(): Promise<void> {
    if (!this.#closed) {
      this.store.failWatches(this, this.#error("watch"));
      this.#closed = true;
    }
    return Promise.resolve();
  }
}

/**
 * Creates a memory coord driver, the standalone default.
 *
 * @param options A store to share with other drivers; a private one by default.
 * @returns The driver.
 *
 * @example Two providers on one in-memory backend
 * ```ts
 * import { coord } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const store = new coord.MemoryCoordStore();
 * await using a = await coord.create(coord.defaultConfig("development"), { driver: coord.memoryCoord({ store }) });
 * await using b = await coord.create(coord.defaultConfig("development"), { driver: coord.memoryCoord({ store }) });
 * await a.config.set("/config/dev/demo/flag", { on: true });
 * assert.deepEqual(await b.config.get("/config/dev/demo/flag"), { on: true });
 * ```
 */
export function memoryCoord(options: MemoryCoordOptions = {}): MemoryCoordDriver {
  return new MemoryCoordDriver(options.store);
}
