/**
 * Db conformance: what is refused before sending, and what SQL errors carry.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as db from "../mod.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the error cases: names and text PostgreSQL would alter are refused
 * before sending, and SQL errors carry SQLSTATE, message and query.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function errorCases(context: DbSuiteContext): void {
  const { test, setup } = context;

  test("names PostgreSQL would truncate and text it would alter are refused before sending", async () => {
    await using env = await setup("names");
    // 63 bytes is the longest name PostgreSQL keeps: 59 + "_9" + … fits, one byte more does not.
    const fits = "s".repeat(61);
    const orders = env.a.sharded(`${env.schema}.${fits}`, { shardKey: "id", shards: 10 });
    for (const table of orders.tables) {
      await env.a.sql`create table ${db.identifier(table)} (id int8)`;
    }
    for (const id of [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]) {
      await env.a.sql`insert into ${orders.for(id)} values (${id})`;
    }
    const [{ n }] = await env.b.sql<{ n: number }>`select count(*)::int4 as n
      from information_schema.tables where table_schema = ${env.schema}`;
    assert.equal(n, 10, "ten shard tables, none truncated into another");
    assert.throws(
      () => env.a.sharded(`${env.schema}.${fits}`, { shardKey: "id", shards: 11 }),
      /shard table 's{61}_10' is 64 UTF-8 bytes, and PostgreSQL truncates names longer than 63/,
    );
    assert.throws(() => db.identifier("é".repeat(32)), /part of 64 UTF-8 bytes/);
    assert.throws(() => db.identifier(`${env.schema}..t`), /has an empty part/);

    const notes = env.table("notes");
    await env.a.sql`create table ${notes} (body text)`;
    for (const lone of ["x\ud800", "x\udc00"]) {
      const malformed = /parameter \$1 is not well-formed Unicode \(a lone surrogate at index 1\)/;
      await assert.rejects(
        async () => await env.a.sql`insert into ${notes} values (${lone})`,
        malformed,
      );
      await assert.rejects(async () => await env.a.sql`select ${lone}::text as body`, malformed);
    }
    await env.a.sql`insert into ${notes} values (${"猫 😺"})`;
    assert.deepEqual(await env.b.sql`select body from ${notes}`, [{ body: "猫 😺" }]);
  });

  test("SQL errors carry SQLSTATE, message and query; bad values are refused before sending", async () => {
    await using env = await setup("errors");
    const users = env.table("users");
    await env.a.sql`create table ${users} (id int4 primary key)`;
    await env.a.sql`insert into ${users} values (${1})`;
    await assert.rejects(
      env.a.sql`insert into ${users} values (${1})`,
      (error: Error) =>
        error instanceof db.SqlError && error.code === "23505" && /insert into/.test(error.query) &&
        typeof error.constraint === "string",
    );
    await assert.rejects(
      env.a.sql`selec 1`,
      (error: Error) => error instanceof db.SqlError && error.code === "42601",
    );
    await assert.rejects(
      async () => await env.a.sql`select ${undefined}`,
      /parameter \$1 is undefined/,
    );
    assert.equal((await env.a.sql`select 1 as one`).length, 1, "the connection is still usable");
  });
}
