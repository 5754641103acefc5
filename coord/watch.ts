/**
 * A watch that survives the backend: it starts with a snapshot, resumes from
 * the last revision it delivered after a dropped connection, and re-lists after
 * a compaction, turning the difference into events, so no change is missed.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { sleep } from "../internal/signal.ts";
import {
  CompactedError,
  type CoordDriver,
  type KeyValue,
  type WatchEvent,
  type WatchTarget,
} from "./types.ts";

/** What a resumable watch yields: first a snapshot, then changes in revision order. */
export type WatchUpdate =
  | { readonly kind: "snapshot"; readonly kvs: readonly KeyValue[]; readonly revision: number }
  | { readonly kind: "changes"; readonly events: readonly WatchEvent[]; readonly revision: number };

/** The key as a put event leaves it (version and lease are not carried by events). */
export function eventKeyValue(event: WatchEvent): KeyValue {
  return {
    key: event.key,
    value: event.value,
    createRevision: event.createRevision,
    modRevision: event.revision,
    version: 0,
    lease: undefined,
  };
}

async function snapshot(
  driver: CoordDriver,
  target: WatchTarget,
): Promise<{ kvs: KeyValue[]; revision: number }> {
  const { kvs, revision } = await driver.list(target.key);
  return { kvs: target.prefix ? kvs : kvs.filter((kv) => kv.key === target.key), revision };
}

/**
 * Watches `target` until one of `stopSignals` aborts or the consumer stops iterating.
 *
 * @param driver The backend.
 * @param target Key or prefix.
 * @param logger Where interruptions are reported.
 * @param stopSignals Any of them ends the iteration (undefined entries are skipped).
 * @returns Snapshot, then changes.
 */
export async function* resumableWatch(
  driver: CoordDriver,
  target: WatchTarget,
  logger: Logger,
  stopSignals: readonly (AbortSignal | undefined)[],
): AsyncGenerator<WatchUpdate> {
  // Aborted when the consumer stops early, so the driver's watch is released too.
  const stop = new AbortController();
  const signals = stopSignals.filter((signal): signal is AbortSignal => signal !== undefined);
  const signal = AbortSignal.any([stop.signal, ...signals]);
  try {
    yield* watchUntil(driver, target, logger, signal);
  } finally {
    stop.abort();
  }
}

async function* watchUntil(
  driver: CoordDriver,
  target: WatchTarget,
  logger: Logger,
  signal: AbortSignal,
): AsyncGenerator<WatchUpdate> {
  let backoffMs = 100;
  let first: { kvs: KeyValue[]; revision: number } | undefined;
  while (first === undefined) {
    try {
      first = await snapshot(driver, target);
    } catch (error) {
      if (signal.aborted) return;
      logger.warn("watch cannot list its keys yet; retrying", { key: target.key, err: error });
      await sleep(backoffMs, signal).catch(() => {});
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }
  if (signal.aborted) return;
  const known = new Map(first.kvs.map((kv) => [kv.key, kv.value]));
  yield { kind: "snapshot", kvs: first.kvs, revision: first.revision };
  let nextRevision = first.revision + 1;
  let interrupted = false;
  backoffMs = 100;

  while (!signal.aborted) {
    try {
      for await (const batch of driver.watch(target, nextRevision, signal)) {
        if (interrupted) {
          logger.info("watch resumed", { key: target.key, revision: nextRevision });
          interrupted = false;
        }
        backoffMs = 100;
        for (const event of batch.events) {
          if (event.type === "put") known.set(event.key, event.value);
          else known.delete(event.key);
        }
        nextRevision = batch.revision + 1;
        yield { kind: "changes", events: batch.events, revision: batch.revision };
      }
      if (signal.aborted) return;
      // The backend ended the stream without an error; watch again from where we are.
    } catch (caught) {
      if (signal.aborted) return;
      let error = caught;
      if (error instanceof CompactedError) {
        logger.warn("watch history was compacted; re-listing so no change is missed", {
          key: target.key,
          revision: nextRevision,
        });
        try {
          const listed = await snapshot(driver, target);
          const events = diff(known, listed.kvs, listed.revision);
          nextRevision = listed.revision + 1;
          if (events.length > 0) yield { kind: "changes", events, revision: listed.revision };
          continue;
        } catch (listError) {
          error = listError;
        }
      }
      if (!interrupted) {
        logger.warn("watch interrupted; resuming from its last revision", {
          key: target.key,
          revision: nextRevision,
          err: error,
        });
        interrupted = true;
      }
      await sleep(backoffMs, signal).catch(() => {});
      backoffMs = Math.min(backoffMs * 2, 2000);
    }
  }
}

/** Events that turn the `known` state into `current`; updates `known` in place. */
function diff(
  known: Map<string, string>,
  current: readonly KeyValue[],
  revision: number,
): WatchEvent[] {
  const events: WatchEvent[] = [];
  const present = new Set<string>();
  for (const kv of current) {
    present.add(kv.key);
    if (known.get(kv.key) !== kv.value) {
      events.push({
        type: "put",
        key: kv.key,
        value: kv.value,
        revision,
        createRevision: kv.createRevision,
      });
      known.set(kv.key, kv.value);
    }
  }
  for (const key of [...known.keys()]) {
    if (present.has(key)) continue;
    events.push({ type: "delete", key, value: "", revision, createRevision: 0 });
    known.delete(key);
  }
  return events;
}
