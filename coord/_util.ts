/**
 * Helpers shared by the coord services: argument checks, JSON decoding and
 * the "wait until my key is the oldest" queue behind locks and elections.
 *
 * @module
 */
import { malformedText } from "../internal/text.ts";
import type { Logger } from "../clog/mod.ts";
import type { BoundCounter, Counter } from "../metrics/mod.ts";
import { releaseUnderSignal, sleep, underSignalOption } from "../internal/signal.ts";
import type { Session } from "./session.ts";
import type { CoordDriver, KeyValue } from "./types.ts";

/** What every coord service gets from the provider. */
export interface CoordContext {
  readonly driver: CoordDriver;
  readonly logger: Logger;
  /** Default TTL of leases for registrations, elections and instance ids. */
  readonly leaseTtlMs: number;
  /** Opens a session the provider tracks and closes on `close()`. */
  openSession(ttlMs: number): Promise<Session>;
  /** Aborts when the provider closes. */
  readonly closed: AbortSignal;
  /** Counters, when the provider was given metrics. */
  readonly counters?: {
    readonly restored: BoundCounter;
    readonly configUpdates: Counter<"key" | "outcome">;
  };
}

/**
 * Rejects an empty or non-string key segment.
 *
 * `absolute` requires a leading `/`: a key is a path below the provider's prefix, so with a
 * prefix `/x/app` the key `2/config` cannot turn into `/x/app2/config`.
 *
 * @throws {TypeError} Naming the operation, the argument and the value.
 */
export function requireKey(
  action: string,
  name: string,
  value: unknown,
  options: { slash?: boolean; absolute?: boolean } = {},
): string {
  if (typeof value !== "string" || value.trim().length === 0) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be a non-empty string: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  if (options.slash === false && value.includes("/")) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must not contain '/': current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  if (options.absolute && !value.startsWith("/")) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must start with '/': current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  if (value.includes("\0")) {
    throw new TypeError(`Cannot ${action} as '${name}' must not contain NUL characters`);
  }
  const malformed = malformedText(action, name, value);
  if (malformed) throw malformed;
  return value;
}

/**
 * A name as one key segment: `%` and `/` escaped, so that no name's keys lie under another
 * name's prefix (the waiters of lock `a`, under `/locks/a/`, never see those of lock `a/b`).
 */
export function keySegment(name: string): string {
  return name.replaceAll("%", "%25").replaceAll("/", "%2F");
}

/** The longest delay a timer can wait (2³¹−1 ms); setTimeout fires a longer one at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The longest lease TTL the provider asks `driver` for: leases are kept alive by timers, so it
 * is the longest timer delay, rounded down to the driver's TTL steps.
 */
export function maxTtlMs(driver: CoordDriver): number {
  return Math.floor(MAX_TIMER_MS / driver.leaseTtlGranularityMs) * driver.leaseTtlGranularityMs;
}

/**
 * Checks a lease TTL against what the driver can grant and a timer can wait for.
 *
 * @throws {RangeError} When below the driver's minimum, above {@linkcode maxTtlMs} or not a
 * finite number.
 */
export function requireTtl(
  action: string,
  ttlMs: unknown,
  driver: CoordDriver,
  field = "ttlMs",
): number {
  if (typeof ttlMs !== "number" || !Number.isFinite(ttlMs) || ttlMs < driver.minLeaseTtlMs) {
    const why = driver.leaseTtlGranularityMs > 1
      ? ` (the ${driver.name} driver grants leases of at least ${driver.minLeaseTtlMs} ms, in whole ${driver.leaseTtlGranularityMs} ms steps)`
      : "";
    throw new RangeError(
      `Cannot ${action} as '${field}' must be at least ${driver.minLeaseTtlMs} ms${why}: current value is ${ttlMs}`,
    );
  }
  const granted = Math.ceil(ttlMs / driver.leaseTtlGranularityMs) * driver.leaseTtlGranularityMs;
  if (granted > maxTtlMs(driver)) {
    throw new RangeError(
      `Cannot ${action} as '${field}' must be at most ${
        maxTtlMs(driver)
      } ms (the longest a timer can wait): current value is ${ttlMs}`,
    );
  }
  return granted;
}

/**
 * Parses stored JSON.
 *
 * @throws {TypeError} Naming the key when the stored text is not JSON.
 */
export function decodeJson<T>(kv: KeyValue): T {
  try {
    return JSON.parse(kv.value) as T;
  } catch {
    throw new TypeError(
      `Cannot read key '${kv.key}' as its value is not JSON: ${
        JSON.stringify(kv.value.slice(0, 80))
      }`,
    );
  }
}

/** A random token identifying one owner of a key. */
export function ownerToken(): string {
  return crypto.randomUUID();
}

/**
 * Waits until `myKey` has the lowest create revision under `prefix` (the
 * holder of a lock, the leader of an election), watching only the key just
 * ahead of it so that a release wakes one waiter, not all of them.
 *
 * @throws The signal's reason when it aborts (abort, lost session).
 */
export async function waitForTurn(
  driver: CoordDriver,
  prefix: string,
  myKey: string,
  myRevision: number,
  signal: AbortSignal,
  logger: Logger,
): Promise<void> {
  let backoffMs = 50;
  for (;;) {
    signal.throwIfAborted();
    let listed: { kvs: KeyValue[]; revision: number };
    try {
      listed = await driver.list(prefix);
    } catch (error) {
      signal.throwIfAborted();
      logger.debug("waiting for a turn: listing failed, retrying", { prefix, err: error });
      await sleep(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, 1000);
      continue;
    }
    signal.throwIfAborted();
    let ahead: KeyValue | undefined;
    let mine = false;
    for (const kv of listed.kvs) {
      if (kv.key === myKey) mine = true;
      else if (
        kv.createRevision < myRevision && (!ahead || kv.createRevision > ahead.createRevision)
      ) ahead = kv;
    }
    // Our own key vanished: its lease expired, which the session reports through the signal.
    if (!mine) {
      await sleep(backoffMs, signal);
      continue;
    }
    if (!ahead) return;
    await waitForDelete(driver, ahead.key, listed.revision + 1, signal);
  }
}

async function waitForDelete(
  driver: CoordDriver,
  key: string,
  fromRevision: number,
  signal: AbortSignal,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const batch of driver.watch({ key, prefix: false }, fromRevision, stop.signal)) {
      if (batch.events.some((event) => event.type === "delete")) return;
    }
  } catch {
    // Compaction or a dropped connection: the caller lists again, which sees the current state.
    await sleep(50, signal);
  } finally {
    signal.removeEventListener("abort", onAbort);
    stop.abort();
  }
}

/** What {@linkcode keepOnLease} needs of its holder. */
export interface LeaseKeeping {
  /** Ends the keeping. */
  readonly stop: AbortSignal;
  /** The `lost` signal of the lease the holder is on now. */
  lost(): AbortSignal;
  /** Told once per loss, before the first `restore`. */
  onLost(): void;
  /** Writes the holder's entries again on a new lease; throws to be tried again. */
  restore(): Promise<void>;
  /** Told of each failed `restore`. */
  onRetry(error: unknown): void;
}

/**
 * Keeps a holder's entries (a registration, a presence member) on a lease: each time the lease is
 * lost, `restore` runs again and again, backing off from 100 ms to 2 s, until it succeeds or
 * `stop` aborts. Resolves once `stop` aborts.
 *
 * @param holder The signals and callbacks of the holder.
 */
export async function keepOnLease(holder: LeaseKeeping): Promise<void> {
  const { stop } = holder;
  while (!stop.aborted) {
    await new Promise<void>((resolve) => {
      const either = AbortSignal.any([holder.lost(), stop]);
      if (either.aborted) resolve();
      else either.addEventListener("abort", () => resolve(), { once: true });
    });
    if (stop.aborted) return;
    holder.onLost();
    for (let backoffMs = 100; !stop.aborted; backoffMs = Math.min(backoffMs * 2, 2000)) {
      try {
        await holder.restore();
        break;
      } catch (error) {
        holder.onRetry(error);
        await sleep(backoffMs, stop).catch(() => {});
      }
    }
  }
}

/** An AbortSignal that follows `source` but aborts with `wrap(reason)`. */
export function relabel(source: AbortSignal, wrap: (reason: unknown) => Error): AbortSignal {
  const controller = new AbortController();
  if (source.aborted) controller.abort(wrap(source.reason));
  else {source.addEventListener("abort", () => controller.abort(wrap(source.reason)), {
      once: true,
    });}
  return controller.signal;
}

/** Options of coord's single calls (`config.get`, `registry.discover`, …). */
export interface CallOptions {
  /**
   * Ends the wait with the signal's reason: once aborted, the call is not sent (releases, such as
   * `unlock`, `unregister` and `resign`, are sent all the same); in flight, its answer is no
   * longer awaited (a change already sent may still apply).
   */
  readonly signal?: AbortSignal;
}

/** Runs a release (unlock, unregister, resign) that starts even once `options.signal` has aborted. */
export function release<T>(
  action: string,
  options: CallOptions | undefined,
  run: () => Promise<T>,
): Promise<T> {
  return releaseUnderSignal(action, options?.signal, run);
}

/** Runs one driver call under `options.signal`. */
export function call<T>(
  action: string,
  options: CallOptions | undefined,
  run: () => Promise<T>,
): Promise<T> {
  return underSignalOption(action, options?.signal, run);
}
