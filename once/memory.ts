/**
 * The standalone once driver: records in process memory, expired lazily and
 * by a sweep that stops with the last `close()`.
 *
 * @module
 */
import { closedDriverError } from "../internal/errors.ts";
import type { BeginResult, OnceDriver, OnceOutcome } from "./types.ts";

interface OnceRecord {
  token: string;
  fingerprint: string;
  outcome: OnceOutcome | undefined;
  expiresAt: number;
}

/** The shared state behind memory once drivers (several drivers, one "server"). */
export class MemoryOnceStore {
  readonly #records = new Map<string, OnceRecord>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #clients = 0;

  /** @internal */
  read(key: string): OnceRecord | undefined {
    const record = this.#records.get(key);
    if (record && record.expiresAt <= Date.now()) {
      this.#records.delete(key);
      return undefined;
    }
    return record;
  }

  /** @internal */
  write(key: string, record: OnceRecord): void {
    this.#records.set(key, record);
  }

  /** @internal */
  remove(key: string): void {
    this.#records.delete(key);
  }

  /** @internal */
  attach(): void {
    if (this.#clients++ === 0) {
      this.#timer = setInterval(() => {
        const now = Date.now();
        for (const [key, record] of this.#records) {
          if (record.expiresAt <= now) this.#records.delete(key);
        }
      }, 1000);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** @internal */
  detach(): void {
    if (--this.#clients === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}

/** Options of {@linkcode memoryOnce}. */
export interface MemoryOnceOptions {
  /** Share one store between drivers; a new one by default. */
  readonly store?: MemoryOnceStore;
}

class MemoryOnce implements OnceDriver {
  readonly name = "memory";
  readonly #store: MemoryOnceStore;
  #closed = false;

  constructor(store: MemoryOnceStore) {
    this.#store = store;
    store.attach();
  }

  begin(key: string, token: string, fingerprint: string, lockTtlMs: number): Promise<BeginResult> {
    const record = this.#store.read(key);
    if (!record) {
      this.#store.write(key, {
        token,
        fingerprint,
        outcome: undefined,
        expiresAt: Date.now() + lockTtlMs,
      });
      return Promise.resolve({ state: "acquired" });
    }
    return Promise.resolve(
      record.outcome
        ? { state: "done", fingerprint: record.fingerprint, outcome: record.outcome }
        : { state: "in-progress", fingerprint: record.fingerprint },
    );
  }

  renew(key: string, token: string, lockTtlMs: number): Promise<number> {
    const record = this.#store.read(key);
    if (!record || record.token !== token || record.outcome) return Promise.resolve(0);
    record.expiresAt = Date.now() + lockTtlMs;
    return Promise.resolve(lockTtlMs);
  }

  complete(key: string, token: string, outcome: OnceOutcome, ttlMs: number): Promise<boolean> {
    const record = this.#store.read(key);
    if (!record || record.token !== token) return Promise.resolve(false);
    record.outcome = outcome;
    record.expiresAt = Date.now() + ttlMs;
    return Promise.resolve(true);
  }

  abandon(key: string, token: string): Promise<void> {
    if (this.#store.read(key)?.token === token) this.#store.remove(key);
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return this.#closed ? Promise.reject(closedDriverError(this.name, "ping")) : Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#store.detach();
    }
    return Promise.resolve();
  }
}

/**
 * Creates the memory once driver, the standalone default.
 *
 * @param options A store to share.
 * @returns The driver.
 */
export function memoryOnce(options: MemoryOnceOptions = {}): OnceDriver {
  return new MemoryOnce(options.store ?? new MemoryOnceStore());
}
