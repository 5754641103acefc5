/**
 * Db conformance: queries with bound parameters and the result types every driver returns.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the query cases: CRUD with bound parameters seen from a second
 * provider, and result types that are the same on every driver.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function queryCases(context: DbSuiteContext): void {
  const { test, setup } = context;

  test("CRUD with bound parameters, visible from a second provider", async () => {
    await using env = await setup("crud");
    const users = env.table("users");
    await env.a.sql`create table ${users} (id int8 primary key, name text not null, tags jsonb)`;
    const inserted = await env.a.sql<
      { id: bigint }
    >`insert into ${users} (id, name, tags) values (${1n}, ${"ann"}, ${{
      vip: true,
    }}), (${2n}, ${"bo"}, ${null}) returning id`;
    assert.deepEqual(inserted.map((row) => row.id), [1n, 2n]);
    const hostile = "x'); drop table users; --";
    await env.a.sql`update ${users} set name = ${hostile} where id = ${2n}`;
    const rows = await env.b.sql<
      { id: bigint; name: string; tags: unknown }
    >`select * from ${users} order by id`;
    assert.deepEqual(rows, [{ id: 1n, name: "ann", tags: { vip: true } }, {
      id: 2n,
      name: hostile,
      tags: null,
    }]);
    await env.b.sql`delete from ${users} where id = ${1n}`;
    assert.equal((await env.a.sql`select * from ${users}`).length, 1);
    const reader = await env.a.reader().sql<{ n: bigint }>`select count(*) as n from ${users}`;
    assert.deepEqual(reader, [{ n: 1n }]);
  });

  test("result types are the same on every driver", async () => {
    await using env = await setup("types");
    const [row] = await env.a.sql<Record<string, unknown>>`select
      9007199254740993::int8 as big, 42::int4 as small, 1.5::float8 as float, 12.345::numeric as exact,
      '{"a":[1,2]}'::jsonb as doc, '{"b":1}'::json as doc2, true as flag, 'hé'::text as word, null::text as nothing,
      '2026-01-02T03:04:05.678Z'::timestamptz as at, '2026-01-02'::date as day, array[1,2,3]::int4[] as list,
      ${new Uint8Array([
      1,
      2,
      255,
    ])}::bytea as bytes, ${12345678901234567890n}::numeric as param_big,
      ${new Date("2026-03-04T05:06:07Z")}::timestamptz as param_date, ${{
      k: "v",
    }}::jsonb as param_doc`;
    assert.equal(row.big, 9007199254740993n);
    assert.equal(row.small, 42);
    assert.equal(row.float, 1.5);
    assert.equal(row.exact, "12.345");
    assert.deepEqual(row.doc, { a: [1, 2] });
    assert.deepEqual(row.doc2, { b: 1 });
    assert.equal(row.flag, true);
    assert.equal(row.word, "hé");
    assert.equal(row.nothing, null);
    assert.ok(row.at instanceof Date && row.at.toISOString() === "2026-01-02T03:04:05.678Z");
    assert.equal(row.day, "2026-01-02");
    assert.deepEqual(row.list, [1, 2, 3]);
    assert.ok(row.bytes instanceof Uint8Array);
    assert.deepEqual([...(row.bytes as Uint8Array)], [1, 2, 255]);
    assert.equal(row.param_big, "12345678901234567890");
    assert.equal((row.param_date as Date).toISOString(), "2026-03-04T05:06:07.000Z");
    assert.deepEqual(row.param_doc, { k: "v" });
  });
}
