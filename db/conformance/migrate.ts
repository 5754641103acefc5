/**
 * Db conformance: migrations run concurrently.
 *
 * @module
 */
import assert from "node:assert/strict";
import type * as db from "../mod.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the migration case: two concurrent runs apply each migration once.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function migrateCases(context: DbSuiteContext): void {
  const { test, setup } = context;

  test("migrate run twice concurrently applies each migration once", async () => {
    await using env = await setup("migrate");
    const id = (n: number) => `${env.schema}_${n}`;
    const migrations: db.Migration[] = [
      {
        id: id(1),
        sql: `create table ${env.schema}.m1 (id int4); insert into ${env.schema}.m1 values (1);`,
      },
      { id: id(2), up: async (tx) => void await tx.sql`insert into ${env.table("m1")} values (2)` },
    ];
    const [first, second] = await Promise.all([
      env.a.migrate(migrations),
      env.b.migrate(migrations),
    ]);
    assert.deepEqual([...first, ...second].sort(), [id(1), id(2)]);
    assert.deepEqual(await env.a.migrate(migrations), [], "nothing left to apply");
    const rows = await env.a.sql<{ id: number }>`select id from ${env.table("m1")} order by id`;
    assert.deepEqual(rows.map((row) => row.id), [1, 2]);
    await assert.rejects(env.a.migrate([{ id: "" } as db.Migration]), /non-empty 'id'/);
    await assert.rejects(
      env.a.migrate([{ id: "x", sql: "select 1" }, { id: "x", sql: "select 1" }]),
      /appears twice/,
    );
  });
}
