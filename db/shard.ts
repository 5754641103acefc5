/**
 * Sharded tables: a logical table split into `<table>_0` … `<table>_{n-1}` by a shard key, with
 * the routing from a key to its physical table.
 *
 * @module
 */
import { fnv1a } from "../internal/hash.ts";
import { Deferred, type Identifier, identifier, MAX_IDENTIFIER_BYTES, utf8Length } from "./sql.ts";

/** How a sharded table maps a key to a shard. */
export type ShardStrategy = "hash" | "modulo";

/** Options of `sharded`. */
export interface ShardOptions {
  /** The column that decides the shard. */
  readonly shardKey: string;
  /** Number of physical tables, `<table>_0` … `<table>_{n-1}`. */
  readonly shards: number;
  /**
   * `hash` (FNV-1a of the key's text) or `modulo` (integer keys).
   * @default {"hash"}
   */
  readonly strategy?: ShardStrategy;
}

/** A table split into physical tables by a shard key. */
export interface ShardedTable {
  /** The logical name. */
  readonly table: string;
  /** The shard key column. */
  readonly shardKey: string;
  /** The physical table names, by shard. */
  readonly tables: readonly string[];
  /** The shard a key belongs to. */
  shardOf(key: unknown): number;
  /** The physical table for a key, to interpolate in `sql`. */
  for(key: unknown): Identifier;
}

/**
 * Routing helpers for `table` split by `options.shardKey`.
 *
 * @throws {TypeError | RangeError} On a bad table name, shard key, shard count or strategy.
 */
export function sharded(table: string, options: ShardOptions): ShardedTable {
  identifier(table);
  const { shardKey, shards, strategy = "hash" } = options ?? ({} as ShardOptions);
  if (typeof shardKey !== "string" || shardKey.length === 0) {
    throw new TypeError(
      `Cannot shard table '${table}' as 'shardKey' must be a column name: current value is ${
        JSON.stringify(shardKey)
      }`,
    );
  }
  if (!Number.isSafeInteger(shards) || shards < 1) {
    throw new RangeError(
      `Cannot shard table '${table}' as 'shards' must be a positive integer: current value is ${shards}`,
    );
  }
  if (strategy !== "hash" && strategy !== "modulo") {
    throw new RangeError(
      `Cannot shard table '${table}' as 'strategy' must be "hash" or "modulo": current value is ${
        JSON.stringify(strategy)
      }`,
    );
  }
  const tables = Array.from({ length: shards }, (_, i) => `${table}_${i}`);
  // The last shard has the longest name; PostgreSQL would cut it to the others' and merge them.
  const longest = tables[shards - 1].split(".").at(-1)!;
  if (utf8Length(longest) > MAX_IDENTIFIER_BYTES) {
    throw new RangeError(
      `Cannot shard table '${table}' as shard table '${longest}' is ${
        utf8Length(longest)
      } UTF-8 bytes, and PostgreSQL truncates names longer than ${MAX_IDENTIFIER_BYTES}: shorten the table name`,
    );
  }
  const shardOf = (key: unknown): number => {
    if (key === undefined || key === null) {
      throw new TypeError(
        `Cannot route a query on sharded table '${table}' without its shard key '${shardKey}'`,
      );
    }
    if (strategy === "modulo") {
      if (typeof key === "bigint") {
        return Number(((key % BigInt(shards)) + BigInt(shards)) % BigInt(shards));
      }
      if (typeof key === "number" && Number.isSafeInteger(key)) {
        return ((key % shards) + shards) % shards;
      }
      throw new TypeError(
        `Cannot route on sharded table '${table}' by modulo as shard key '${shardKey}' must be an integer: current value is ${
          String(key)
        }`,
      );
    }
    return fnv1a(String(key)) % shards;
  };
  // Interpolating the logical table itself is the mistake of forgetting the shard key.
  const logical = new Deferred(() => {
    throw new TypeError(
      `Cannot query sharded table '${table}' without its shard key '${shardKey}': interpolate ${table}.for(${shardKey}) instead`,
    );
  });
  return Object.assign(logical, {
    table,
    shardKey,
    tables,
    shardOf,
    for: (key: unknown) => identifier(tables[shardOf(key)]),
  });
}
