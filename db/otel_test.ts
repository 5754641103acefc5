/** db's OpenTelemetry spans, on an in-memory SDK: a client span per statement, on PGlite. */
import assert from "node:assert/strict";
import { pgliteDb } from "../drivers/pglite.ts";
import { quietLogger } from "../testing/logger.ts";
import { recordSpans } from "../testing/otel.ts";
import type { DbDriver, DbPool } from "./driver.ts";
import * as db from "./mod.ts";
import { statementTarget } from "./trace.ts";

// PGlite takes seconds to start: one in-process database for the whole file, kept open.
const pglite = await db.create(db.defaultConfig("development"), {
  driver: pgliteDb(),
  logger: quietLogger(),
});
await pglite.sql`create table otel_users (id int8 primary key, name text not null)`;

Deno.test("db spans: a query is a client span `SELECT <table>`, child of the caller's, without its values", async () => {
  using recorder = recordSpans();
  const request = recorder.startSpan("GET /users", 1);
  await recorder.runIn(request, async () => {
    await pglite.sql`insert into otel_users values (${1n}, ${"secret-ann"})`;
    await pglite.reader().sql`select id, name from otel_users where name = ${"secret-ann"}`;
  });
  request.end();

  const [insert] = recorder.named("INSERT otel_users");
  const [select] = recorder.named("SELECT otel_users");
  assert.ok(insert && select, `spans: ${recorder.spans.map((span) => span.name).join(", ")}`);
  for (const span of [insert, select]) {
    assert.equal(span.kind, 2, "client");
    assert.equal(span.parentSpanId, request.spanId);
    assert.equal(span.traceId, request.traceId);
    assert.ok(span.ended);
    assert.equal(span.status.code, 0);
    assert.ok(!JSON.stringify(span.attributes).includes("secret-ann"), "no bound value");
  }
  assert.deepEqual(select.attributes, {
    "db.system": "postgresql",
    "db.statement": "select id, name from otel_users where name = $1",
    "db.operation": "SELECT",
    "db.sql.table": "otel_users",
  });
  assert.equal(insert.attributes["db.statement"], "insert into otel_users values ($1, $2)");
  assert.equal(insert.attributes["db.operation"], "INSERT");
  await pglite.sql`delete from otel_users`;
});

Deno.test("db spans: a failed query is an error span; a query never sent has none", async () => {
  using recorder = recordSpans();
  await assert.rejects(pglite.sql`select * from otel_missing where id = ${7}`, db.SqlError);
  const [failed] = recorder.named("SELECT otel_missing");
  assert.equal(failed.kind, 2);
  assert.equal(failed.status.code, 2);
  assert.match(failed.status.message ?? "", /otel_missing/);
  assert.ok(failed.ended);
  assert.equal(failed.attributes["db.statement"], "select * from otel_missing where id = $1");

  await assert.rejects(pglite.sql`select ${undefined}`, /undefined/);
  assert.equal(recorder.spans.length, 1, "a query that cannot be built sends nothing");
});

Deno.test("db spans: a transaction is an internal span, parent of its statements and savepoints", async () => {
  using recorder = recordSpans();
  const request = recorder.startSpan("POST /users", 1);
  await recorder.runIn(request, () =>
    pglite.transaction(async (tx) => {
      await tx.sql`insert into otel_users values (${2n}, ${"bob"})`;
      await tx.exec("create temporary table otel_scratch (n int4)");
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.sql`update otel_users set name = ${"eve"} where id = ${2n}`;
          throw new Error("undo the update");
        }),
        /undo the update/,
      );
    }));
  request.end();

  const [transaction] = recorder.named("transaction");
  assert.equal(transaction.kind, 0, "internal");
  assert.equal(transaction.parentSpanId, request.spanId);
  assert.equal(transaction.attributes["db.system"], "postgresql");
  assert.equal(transaction.status.code, 0);
  assert.ok(transaction.ended);
  const children = recorder.spans.filter((span) => span.parentSpanId === transaction.spanId);
  assert.deepEqual(children.map((span) => span.name), [
    "INSERT otel_users",
    "CREATE",
    "SAVEPOINT",
    "UPDATE otel_users",
    "ROLLBACK",
  ]);
  for (const span of children) assert.equal(span.kind, 2);
  assert.equal(
    children[1].attributes["db.statement"],
    "create temporary table otel_scratch (n int4)",
  );
  assert.equal(children[2].attributes["db.statement"], "savepoint kit_sp_1");
  assert.equal(children[4].attributes["db.statement"], "rollback to savepoint kit_sp_1");
  assert.equal(
    children[3].attributes["db.statement"],
    "update otel_users set name = $1 where id = $2",
  );
  await pglite.sql`delete from otel_users`;
});

Deno.test("db spans: a transaction that fails is an error span", async () => {
  using recorder = recordSpans();
  await assert.rejects(
    pglite.transaction(async (tx) => {
      await tx.sql`select * from otel_missing`;
    }),
    db.SqlError,
  );
  const [transaction] = recorder.named("transaction");
  const [statement] = recorder.named("SELECT otel_missing");
  assert.equal(statement.parentSpanId, transaction.spanId);
  assert.equal(statement.status.code, 2);
  assert.equal(transaction.status.code, 2);
});

Deno.test("db spans: a retried transaction is one span with a retry event; another driver names its system", async () => {
  let attempts = 0;
  const pool: DbPool = {
    query: () => Promise.resolve({ rows: [{ n: 1 }], rowCount: 1 }),
    exec: () => Promise.resolve(),
    transaction: (_isolation, fn) =>
      ++attempts === 1
        ? Promise.reject(new db.SqlError("40001", "could not serialize access", "commit"))
        : fn(pool),
    close: () => Promise.resolve(),
  };
  const driver: DbDriver = {
    name: "recording",
    connect: () => Promise.resolve({ writer: pool, readers: [] }),
  };
  using recorder = recordSpans();
  await using database = await db.create(db.defaultConfig("development"), {
    driver,
    logger: quietLogger(),
  });
  await database.transaction(async (tx) => {
    await tx.sql`select ${1} as n`;
  });
  assert.equal(attempts, 2);
  const [transaction] = recorder.named("transaction");
  assert.equal(recorder.named("transaction").length, 1);
  assert.equal(transaction.attributes["db.system"], "recording");
  assert.deepEqual(transaction.events, [
    { name: "transaction retry", attributes: { "db.response.status_code": "40001" } },
  ]);
  const [select] = recorder.named("SELECT");
  assert.equal(select.parentSpanId, transaction.spanId);
  assert.equal(select.attributes["db.system"], "recording");
});

Deno.test("db spans: migrations run in a transaction span, one span per statement", async () => {
  using recorder = recordSpans();
  const applied = await pglite.migrate([
    { id: "otel_001", sql: "create table otel_migrated (id int4)" },
  ]);
  assert.deepEqual(applied, ["otel_001"]);
  const [transaction] = recorder.named("transaction");
  const names = recorder.spans
    .filter((span) => span.parentSpanId === transaction.spanId)
    .map((span) => span.name);
  assert.deepEqual(names, [
    "SELECT",
    "CREATE",
    "SELECT kit_migrations",
    "CREATE",
    "INSERT kit_migrations",
  ]);
});

Deno.test("db spans: the operation and table a statement names", () => {
  const cases: [string, string, string | undefined][] = [
    ["select count(*) from users where id = $1", "SELECT", "users"],
    ["SELECT extract(year from at) AS y FROM public.events", "SELECT", "public.events"],
    ['select * from "My Table"', "SELECT", "My Table"],
    ["select * from (select 1) as t", "SELECT", undefined],
    ["select (select max(n) from a) from b", "SELECT", undefined],
    ["select 1", "SELECT", undefined],
    ["  -- a comment\n/* another */ insert into logs (msg) values ($1)", "INSERT", "logs"],
    ["update only accounts set n = n + 1", "UPDATE", "accounts"],
    ["delete from sessions where expires < now()", "DELETE", "sessions"],
    ["with x as (select 1) select * from x", "WITH", undefined],
    ["begin isolation level serializable", "BEGIN", undefined],
    ["   ", "", undefined],
  ];
  for (const [text, operation, table] of cases) {
    assert.deepEqual(statementTarget(text), { operation, table }, text);
  }
});

Deno.test("db spans: none without an SDK", async () => {
  assert.equal(
    (globalThis as Record<symbol, unknown>)[Symbol.for("opentelemetry.js.api.1")],
    undefined,
  );
  const [row] = await pglite.sql<{ n: number }>`select ${1}::int4 as n`;
  assert.equal(row.n, 1);
  assert.equal(await pglite.transaction(async (tx) => (await tx.sql`select 1 as n`).length), 1);
});
