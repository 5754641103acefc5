/**
 * A coord driver seen through a key prefix, so several applications can share
 * one etcd cluster without seeing each other's registrations, config or locks.
 *
 * @module
 */
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
 * @param driver The driver to wrap.
 * @param prefix Non-empty key prefix, such as `/gochat`.
 * @returns The prefixed driver.
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
  const out = (kv: KeyValue): KeyValue => ({ ...kv, key: kv.key.slice(prefix.length) });
  const into = (op: TxnOp): TxnOp =>
    op.type === "oldest" ? { ...op, prefix: prefix + op.prefix } : { ...op, key: prefix + op.key };
  return {
    name: driver.name,
    minLeaseTtlMs: driver.minLeaseTtlMs,
    leaseTtlGranularityMs: driver.leaseTtlGranularityMs,
    ping: () => driver.ping(),
    get: async (key) => {
      const kv = await driver.get(prefix + key);
      return kv && out(kv);
    },
    list: async (keyPrefix) => {
      const { kvs, revision } = await driver.list(prefix + keyPrefix);
      return { kvs: kvs.map(out), revision };
    },
    put: (key, value, lease) => driver.put(prefix + key, value, lease),
    delete: (key) => driver.delete(prefix + key),
    txn: async (
      compares: readonly Compare[],
      success: readonly TxnOp[],
      failure: readonly TxnOp[],
    ): Promise<TxnResult> => {
      const result = await driver.txn(
        compares.map((compare) => ({ ...compare, key: prefix + compare.key })),
        success.map(into),
        failure.map(into),
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
        const batch of driver.watch({ ...target, key: prefix + target.key }, fromRevision, signal)
      ) {
        yield {
          ...batch,
          events: batch.events.map((event) => ({ ...event, key: event.key.slice(prefix.length) })),
        };
      }
    },
    close: () => driver.close(),
  };
}
