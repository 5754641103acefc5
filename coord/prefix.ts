/**
 * A coord driver seen through a key prefix, so several applications can share
 * one etcd cluster without seeing each other's registrations, config or locks.
 *
 * @module
 */
import { requireKey } from "./_util.ts";
import type {
  Compare,
  CoordDriver,
  KeyValue,
  TxnOp,
  TxnResult,
  WatchBatch,
  WatchTarget,
} from "./types.ts";

/**
 * Wraps `driver` so every key is stored under `prefix` and returned without it.
 *
 * The prefix is a path segment: keys must start with `/`, so `/x/app` holds `/x/app/…` and
 * nothing else — the key `2/config` cannot reach `/x/app2/config`. A trailing `/` of the prefix
 * is dropped (`/gochat/` and `/gochat` are one prefix). Keys are opaque (etcd does not resolve
 * `..`), so `/../app2/k` is just a key inside `/x/app`. Nested prefixes nest like directories:
 * `/x` sees what `/x/app` stores, under `/app/…`.
 *
 * @param driver The driver to wrap.
 * @param prefix Non-empty key prefix, such as `/gochat`.
 * @returns The prefixed driver; its calls reject with a `TypeError` on a key that does not start
 * with `/`.
 * @throws {TypeError} On an empty prefix.
 */
export function prefixedDriver(driver: CoordDriver, prefix: string): CoordDriver {
  if (typeof prefix !== "string" || prefix.length === 0) {
    throw new TypeError(
      `Cannot prefix coord keys as 'prefix' must be a non-empty string: current value is ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const root = prefix.replace(/\/+$/, "");
  const action = `use a key under coord prefix '${root || "/"}'`;
  const into = (key: string): string => root + requireKey(action, "key", key, { absolute: true });
  const out = (kv: KeyValue): KeyValue => ({ ...kv, key: kv.key.slice(root.length) });
  const intoOp = (op: TxnOp): TxnOp =>
    op.type === "oldest" ? { ...op, prefix: into(op.prefix) } : { ...op, key: into(op.key) };
  return {
    name: driver.name,
    minLeaseTtlMs: driver.minLeaseTtlMs,
    leaseTtlGranularityMs: driver.leaseTtlGranularityMs,
    ping: () => driver.ping(),
    get: async (key) => {
      const kv = await driver.get(into(key));
      return kv && out(kv);
    },
    list: async (keyPrefix) => {
      const { kvs, revision } = await driver.list(into(keyPrefix));
      return { kvs: kvs.map(out), revision };
    },
    put: async (key, value, lease) => await driver.put(into(key), value, lease),
    delete: async (key) => await driver.delete(into(key)),
    txn: async (
      compares: readonly Compare[],
      success: readonly TxnOp[],
      failure: readonly TxnOp[],
    ): Promise<TxnResult> => {
      const result = await driver.txn(
        compares.map((compare) => ({ ...compare, key: into(compare.key) })),
        success.map(intoOp),
        failure.map(intoOp),
      );
      return { ...result, gets: result.gets.map((kv) => kv && out(kv)) };
    },
    grantLease: (ttlMs) => driver.grantLease(ttlMs),
    keepAlive: (id) => driver.keepAlive(id),
    leaseTimeToLive: (id) => driver.leaseTimeToLive(id),
    revokeLease: (id) => driver.revokeLease(id),
    async *watch(
      target: WatchTarget,
      fromRevision: number,
      signal: AbortSignal,
    ): AsyncIterable<WatchBatch> {
      for await (
        const batch of driver.watch({ ...target, key: into(target.key) }, fromRevision, signal)
      ) {
        yield {
          ...batch,
          events: batch.events.map((event) => ({ ...event, key: event.key.slice(root.length) })),
        };
      }
    },
    close: () => driver.close(),
  };
}
