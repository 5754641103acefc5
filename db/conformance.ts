/**
 * The behaviour every db driver must show, as `Deno.test` cases. Each case
 * works in a schema of its own; several cases use two providers on one database.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { dbConformance } from "@gochat/kit/db/conformance";
 * import { pgliteDb } from "@gochat/kit/drivers/pglite";
 *
 * const driver = pgliteDb();
 * dbConformance({ name: "pglite", makeDriver: () => driver, config: {} });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { RUN_ID } from "../testing/keyspace.ts";
import * as metrics from "../metrics/mod.ts";
import * as db from "./mod.ts";
import { capturingLogger } from "../testing/logger.ts";

/** How to run the suite against one driver. */
export interface DbSuiteOptions {
  /** Driver name for test names (`[postgres] …`). */
  readonly name: string;
  /** The driver for a new provider; the same database each time. */
  makeDriver(): db.DbDriver;
  /** Connection settings merged into `defaultConfig("development")`. */
  readonly config: Partial<db.DbConfig>;
  /** Ignore every case (the database is not available). */
  readonly ignore?: boolean;
}

let schemas = 0;

/**
 * Registers the db conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function dbConformance(options: DbSuiteOptions): void {
  const { name } = options;

  async function setup(label: string) {
    const schema = `kit_${RUN_ID}_${++schemas}_${label.replace(/\W+/g, "_")}`.toLowerCase().slice(
      0,
      60,
    );
    const { logger, logs } = capturingLogger();
    const config = { ...db.defaultConfig("development"), ...options.config };
    const a = await db.create(config, { driver: options.makeDriver(), logger });
    const b = await db.create(config, { driver: options.makeDriver(), logger });
    await a.sql`create schema ${db.identifier(schema)}`;
    const table = (tableName: string) => db.identifier(`${schema}.${tableName}`);
    return {
      a,
      b,
      logs,
      schema,
      table,
      async [Symbol.asyncDispose]() {
        await a.sql`drop schema ${db.identifier(schema)} cascade`;
        await a.close();
        await b.close();
      },
    };
  }

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] db: ${title}`, ignore: options.ignore, fn });

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await db.create({ ...db.defaultConfig("development"), ...options.config }, {
      driver: options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), db.DriverError);
  });

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

  test("a transaction commits as a whole or rolls back as a whole", async () => {
    await using env = await setup("tx");
    const accounts = env.table("accounts");
    await env.a
      .sql`create table ${accounts} (id int4 primary key, balance int4 not null check (balance >= 0))`;
    await env.a.sql`insert into ${accounts} values (1, 100), (2, 0)`;
    await env.a.transaction(async (tx) => {
      await tx.sql`update ${accounts} set balance = balance - 30 where id = 1`;
      await tx.sql`update ${accounts} set balance = balance + 30 where id = 2`;
    });
    await assert.rejects(
      env.a.transaction(async (tx) => {
        await tx.sql`update ${accounts} set balance = balance + 500 where id = 2`;
        await tx.sql`update ${accounts} set balance = balance - 500 where id = 1`; // violates the check
      }),
      (error: Error) => error instanceof db.SqlError && error.code === "23514",
    );
    const balances = await env.b.sql<
      { id: number; balance: number }
    >`select * from ${accounts} order by id`;
    assert.deepEqual(
      balances.map((row) => row.balance),
      [70, 30],
      "the failed transfer left nothing behind",
    );
    // The caller's own error comes back as thrown, even with a `code` like a library error's.
    const own = Object.assign(new Error("insufficient funds"), { code: "APP_FUNDS" });
    await assert.rejects(
      env.a.transaction(async (tx) => {
        await tx.sql`update ${accounts} set balance = balance - 10 where id = 1`;
        throw own;
      }),
      (error) => error === own,
    );
    assert.equal(
      (await env.b.sql<{ balance: number }>`select balance from ${accounts} where id = 1`)[0]
        .balance,
      70,
    );
  });

  test("an aborted transaction rolls back, sends nothing more and rejects with the reason", async () => {
    await using env = await setup("abort");
    const log = env.table("log");
    await env.a.sql`create table ${log} (entry text)`;
    const controller = new AbortController();
    let sentAfterAbort: unknown;
    const running = env.a.transaction(async (tx) => {
      await tx.sql`insert into ${log} values ('before')`;
      controller.abort(new Error("client went away"));
      try {
        await tx.sql`insert into ${log} values ('after')`;
      } catch (error) {
        sentAfterAbort = error;
      }
    }, { signal: controller.signal });
    await assert.rejects(running, /client went away/);
    assert.match(
      String(sentAfterAbort),
      /client went away/,
      "the statement after the abort was refused",
    );
    assert.deepEqual(await env.b.sql`select * from ${log}`, [], "nothing was committed");
    let ran = false;
    await assert.rejects(
      env.a.transaction(() => Promise.resolve(ran = true), { signal: controller.signal }),
      /client went away/,
    );
    assert.equal(ran, false, "an already aborted signal starts nothing");
    await assert.rejects(
      env.a.transaction(() => Promise.resolve(), { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
    assert.deepEqual(
      await env.a.sql`select 1 as one`,
      [{ one: 1 }],
      "the provider is still usable",
    );
  });

  test("a statement sent on a transaction after it ended is refused, never run outside it", async () => {
    await using env = await setup("ended");
    const log = env.table("log");
    await env.a.sql`create table ${log} (entry text)`;
    let late: Promise<unknown> | undefined;
    await env.a.transaction(async (tx) => {
      await tx.sql`insert into ${log} values ('inside')`;
      // Not awaited: sent once the transaction has committed.
      late = new Promise((resolve) => setTimeout(resolve, 20))
        .then(() => tx.sql`insert into ${log} values ('late')`);
    });
    await assert.rejects(late!, /transaction has already ended/);
    assert.deepEqual(await env.b.sql`select entry from ${log}`, [{ entry: "inside" }]);
  });

  test("reader and writer take a signal: an aborted one sends nothing and rejects with the reason", async () => {
    await using env = await setup("query signal");
    const log = env.table("log");
    await env.a.sql`create table ${log} (entry text)`;
    const controller = new AbortController();
    const live = env.a.writer({ signal: controller.signal });
    await live.sql`insert into ${log} values ('sent')`;
    assert.deepEqual(
      await env.a.reader({ signal: controller.signal }).sql`select entry from ${log}`,
      [
        { entry: "sent" },
      ],
    );
    controller.abort(new Error("caller left"));
    await assert.rejects(live.sql`insert into ${log} values ('not sent')`, /caller left/);
    assert.deepEqual(await env.b.sql`select entry from ${log}`, [{ entry: "sent" }]);
    assert.throws(
      () => env.a.writer({ signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });

  test("nested transactions are savepoints: an inner failure rolls back only the inner work", async () => {
    await using env = await setup("savepoint");
    const log = env.table("log");
    await env.a.sql`create table ${log} (entry text unique)`;
    await env.a.transaction(async (tx) => {
      await tx.sql`insert into ${log} values ('outer')`;
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.sql`insert into ${log} values ('inner')`;
          throw new Error("inner failed");
        }),
        /inner failed/,
      );
      await tx.transaction(async (inner) => {
        await inner.sql`insert into ${log} values ('inner kept')`;
      });
      // A statement that fails on the server inside a savepoint, caught: the outer one goes on.
      await assert.rejects(
        tx.transaction(async (inner) => {
          await inner.sql`insert into ${log} values ('unique')`;
          await inner.sql`insert into ${log} values ('unique')`;
        }),
        (error: Error) => error instanceof db.SqlError && error.code === "23505",
      );
      await tx.transaction(async (inner) => {
        await inner.transaction(async (deeper) => {
          await deeper.sql`insert into ${log} values ('deeper')`;
        });
      });
    });
    const entries = await env.a.sql<{ entry: string }>`select entry from ${log} order by entry`;
    assert.deepEqual(entries.map((row) => row.entry), ["deeper", "inner kept", "outer"]);
  });

  test("isolation: no reader sees a concurrent transaction's uncommitted rows", async () => {
    await using env = await setup("isolation");
    const items = env.table("items");
    await env.a.sql`create table ${items} (id int4)`;
    let read: Promise<number> | undefined;
    await assert.rejects(
      env.a.transaction(async (tx) => {
        await tx.sql`insert into ${items} values (1)`;
        // Another provider reads while this transaction is open (PGlite queues it until we finish).
        read = env.b.sql<{ n: bigint }>`select count(*) as n from ${items}`.then((rows) =>
          Number(rows[0].n)
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        throw new Error("roll back");
      }),
      /roll back/,
    );
    assert.equal(await read, 0);
  });

  test("serializable transactions that conflict are retried until both apply", async () => {
    await using env = await setup("retry");
    const counter = env.table("counter");
    await env.a.sql`create table ${counter} (id int4 primary key, n int4)`;
    await env.a.sql`insert into ${counter} values (1, 0)`;
    const bump = (provider: db.Db) =>
      provider.transaction(async (tx) => {
        const [row] = await tx.sql<{ n: number }>`select n from ${counter} where id = 1`;
        await new Promise((resolve) => setTimeout(resolve, 20));
        await tx.sql`update ${counter} set n = ${row.n + 1} where id = 1`;
      }, { isolation: "serializable", retries: 10 });
    await Promise.all([bump(env.a), bump(env.b), bump(env.a)]);
    const [row] = await env.a.sql<{ n: number }>`select n from ${counter} where id = 1`;
    assert.equal(row.n, 3);
  });

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

  test("slow statements are logged with their duration and without parameter values", async () => {
    await using _env = await setup("slow"); // keeps the shared database open, as every case does
    const { logger, logs } = capturingLogger();
    await using slow = await db.create({
      ...db.defaultConfig("development"),
      ...options.config,
      slowQueryMs: 5,
    }, {
      driver: options.makeDriver(),
      logger,
    });
    await slow.sql`select pg_sleep(0.02), ${"secret-value"}::text as p`;
    const line = logs.records.find((record) => record.msg === "slow query");
    assert.ok(line, "logged");
    assert.ok(Number(line.fields.ms) >= 5);
    assert.match(String(line.fields.statement), /pg_sleep\(0\.02\), \$1::text/);
    assert.ok(!JSON.stringify(line.fields).includes("secret-value"));
  });

  test("with metrics, query durations and failures are recorded; slow queries are still logged", async () => {
    await using _env = await setup("metrics"); // keeps the shared database open, as every case does
    const { logger, logs } = capturingLogger();
    await using registry = await metrics.create(metrics.defaultConfig("development"));
    await using measured = await db.create({
      ...db.defaultConfig("development"),
      ...options.config,
      slowQueryMs: 5,
    }, { driver: options.makeDriver(), logger, metrics: registry });
    await measured.sql`select 1`;
    await measured.writer().sql`select pg_sleep(0.02)`;
    await assert.rejects(measured.sql`select * from kit_no_such_table`, db.SqlError);
    const text = registry.render() ?? "";
    const count = Number(
      text.match(/^db_query_duration_seconds_count\{role="primary"\} (\d+)$/m)?.[1],
    );
    const sum = Number(text.match(/^db_query_duration_seconds_sum\{role="primary"\} (\S+)$/m)?.[1]);
    assert.equal(count, 2);
    assert.ok(sum >= 0.02 && sum < 10, `sum ${sum}`);
    assert.match(text, /^db_query_errors_total\{role="primary"\} 1$/m);
    const slow = logs.records.filter((record) => record.msg === "slow query");
    assert.equal(slow.length, 1, "only the pg_sleep");
    assert.ok(Number.isInteger(slow[0].fields.ms) && Number(slow[0].fields.ms) >= 20);
  });
}
