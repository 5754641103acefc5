/**
 * The hash operation group: fields of a key, each with its own value.
 *
 * @module
 */
import { requireText } from "./_util.ts";
import { decodeValue, encodeValue, type OpsContext, requireMembers, requireStep } from "./_ops.ts";

/** Hash operations. */
export interface HashOps {
  /** One field of a hash, or undefined. */
  hget<T = unknown>(key: string, field: string): Promise<T | undefined>;
  /** Sets fields; resolves to how many were new. */
  hset(key: string, fields: Readonly<Record<string, unknown>>): Promise<number>;
  /** Every field of a hash; `{}` when missing. */
  hgetAll<T = unknown>(key: string): Promise<Record<string, T>>;
  /** Deletes fields; resolves to how many existed. */
  hdel(key: string, ...fields: string[]): Promise<number>;
  /** Whether the hash has the field. */
  hexists(key: string, field: string): Promise<boolean>;
  /** Number of fields. */
  hlen(key: string): Promise<number>;
  /** Adds `delta` to an integer field (0 when absent); rejects as `string.incrBy` does. */
  hincrBy(key: string, field: string, delta: number): Promise<number>;
}

/** Creates the hash operations over a provider context. */
export function hashOps(context: OpsContext): HashOps {
  const { driver, keyspace: { key }, serializer } = context;
  return {
    hget: async (name, field) =>
      decodeValue(
        context,
        await driver.hget(key("hget", name), requireText("hget", "field", field)),
      ),
    hset: async (name, fields) => {
      const list = Object.entries(fields ?? {});
      if (list.length === 0) {
        throw new TypeError(`Cannot hset key '${name}' as at least one field is needed`);
      }
      const full = key("hset", name);
      return await driver.hset(
        full,
        list.map(([field, value]) =>
          [
            requireText("hset", "field", field),
            encodeValue(context, value, `${name}.${field}`),
          ] as const
        ),
      );
    },
    hgetAll: async <T>(name: string) => {
      const all = await driver.hgetAll(key("hgetAll", name));
      return Object.fromEntries(
        Object.entries(all).map(([field, text]) => [field, serializer.decode(text) as T]),
      );
    },
    hdel: async (name, ...fields) =>
      await driver.hdel(key("hdel", name), requireMembers("hdel", fields, "field")),
    hexists: async (name, field) =>
      await driver.hexists(key("hexists", name), requireText("hexists", "field", field)),
    hlen: async (name) => await driver.hlen(key("hlen", name)),
    hincrBy: async (name, field, delta) =>
      await driver.hincrBy(
        key("hincrBy", name),
        requireText("hincrBy", "field", field),
        requireStep("hincrBy", delta),
      ),
  };
}
