/**
 * Db conformance: routing by shard key.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as db from "../mod.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the sharding case: queries are routed by key, and one without the
 * shard key is an error that says so.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function shardingCases(context: DbSuiteContext): void {
  const { test, setup } = context;

  test("sharding routes by key, and a query without the shard key is an error that says so", async () => {
    await using env = await setup("shard");
    const orders = env.a.sharded(`${env.schema}.orders`, { shardKey: "user_id", shards: 4 });
    for (const table of orders.tables) {
      await env.a.sql`create table ${db.identifier(table)} (user_id int8, total int4)`;
    }
    for (const user of [1n, 2n, 3n, 42n, 1000n]) {
      await env.a.sql`insert into ${orders.for(user)} (user_id, total) values (${user}, ${10})`;
    }
    const found = await env.b.sql<{ user_id: bigint }>`select user_id from ${
      orders.for(42n)
    } where user_id = ${42n}`;
    assert.deepEqual(found, [{ user_id: 42n }]);
    let total = 0;
    for (const table of orders.tables) {
      total += Number(
        (await env.a.sql<{ n: bigint }>`select count(*) as n from ${db.identifier(table)}`)[0].n,
      );
    }
    assert.equal(total, 5, "each row is in exactly one shard");
    assert.throws(
      () => env.a.sql`select * from ${orders} where total > ${5}`.render(),
      /without its shard key 'user_id'/,
    );
    await assert.rejects(
      async () => await env.a.sql`select * from ${orders}`,
      /without its shard key/,
    );
    assert.throws(() => orders.for(undefined), /without its shard key 'user_id'/);
    const byModulo = env.a.sharded("t", { shardKey: "id", shards: 4, strategy: "modulo" });
    assert.deepEqual([byModulo.shardOf(5), byModulo.shardOf(8n), byModulo.shardOf(-1)], [1, 0, 3]);
    assert.throws(() => byModulo.shardOf("abc"), /must be an integer/);
  });
}
