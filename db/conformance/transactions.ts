/**
 * Db conformance: transactions: atomicity, aborts, savepoints, isolation and serializable retries.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as db from "../mod.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the transaction cases: all or nothing, an aborted transaction rolls
 * back, and nothing is sent on a transaction after it ended.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function transactionCases(context: DbSuiteContext): void {
  const { test, setup } = context;

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
}

/**
 * Registers the nesting and isolation cases: savepoints, no dirty reads, and
 * serializable conflicts retried until both apply.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function isolationCases(context: DbSuiteContext): void {
  const { test, setup } = context;

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
}
