import assert from "node:assert/strict";
import { capturingLogger } from "../testing/logger.ts";
import * as db from "./mod.ts";
import type { DbDriver, DbPool } from "./driver.ts";

/** A driver that records what it is sent and answers after `delayMs`. */
function recordingDriver(delayMs = 0) {
  const sent: string[] = [];
  const pool: DbPool = {
    query(text) {
      sent.push(text);
      return new Promise((resolve) =>
        setTimeout(() => resolve({ rows: [{ n: sent.length }], rowCount: 1 }), delayMs)
      );
    },
    exec: () => Promise.resolve(),
    transaction: () => Promise.reject(new Error("not in this test")),
    close: () => Promise.resolve(),
  };
  const driver: DbDriver = {
    name: "recording",
    connect: () => Promise.resolve({ writer: pool, readers: [] }),
  };
  return { driver, sent };
}

Deno.test("a query runs once however often it is awaited, through then, catch and finally", async () => {
  const { driver, sent } = recordingDriver();
  await using database = await db.create(db.defaultConfig("development"), { driver });
  const query = database.sql<{ n: number }>`select ${1}::int as n`;
  assert.deepEqual(sent, [], "building a query sends nothing");
  assert.deepEqual(await query, [{ n: 1 }]);
  assert.deepEqual(await query, [{ n: 1 }]);
  assert.deepEqual(await query.catch(() => "failed"), [{ n: 1 }]);
  let settled = false;
  assert.deepEqual(await query.finally(() => settled = true), [{ n: 1 }]);
  assert.ok(settled);
  assert.equal(await query.then((rows) => rows.length), 1);
  assert.deepEqual(sent, ["select $1::int as n"]);
  assert.equal(Object.prototype.toString.call(query), "[object Query]");
});

Deno.test("a query that cannot be built rejects every await, and sends nothing", async () => {
  const { driver, sent } = recordingDriver();
  await using database = await db.create(db.defaultConfig("development"), { driver });
  const query = database.sql`select ${undefined}`;
  await assert.rejects(query, /parameter \$1 is undefined/);
  assert.equal(await query.catch(() => "caught"), "caught");
  assert.deepEqual(sent, []);
});

Deno.test("a slow query is logged once, with its duration and its text but not its parameters", async () => {
  const { driver } = recordingDriver(30);
  const { logger, logs } = capturingLogger();
  await using database = await db.create(
    { ...db.defaultConfig("development"), slowQueryMs: 20 },
    { driver, logger },
  );
  const query = database.sql`select ${"secret"}::text`;
  await query;
  await query;
  const slow = logs.records.filter((record) => record.msg === "slow query");
  assert.equal(slow.length, 1);
  assert.equal(slow[0].fields.statement, "select $1::text");
  assert.ok((slow[0].fields.ms as number) >= 20, `logged ${slow[0].fields.ms} ms`);
  assert.ok(!JSON.stringify(slow[0].fields).includes("secret"));
});

Deno.test("a config naming a server without a driver is refused instead of running on PGlite", async () => {
  const production = db.defaultConfig("production");
  const cases: [db.DbConfig, string][] = [
    [{ ...production, url: "postgres://app@db.internal:5432/app" }, "'url'"],
    [{ ...production, host: "db.internal" }, "'host'"],
    [{ ...production, port: 5433 }, "'port'"],
    [{ ...production, user: "app" }, "'user'"],
    [{ ...production, password: "secret" }, "'password'"],
    [{ ...production, replicas: ["postgres://replica/app"] }, "'replicas'"],
  ];
  for (const [config, field] of cases) {
    await assert.rejects(
      db.create(config),
      (e: Error) =>
        e instanceof TypeError && e.message.includes(field) &&
        e.message.includes('pass { driver: postgresDb() } from "@gochat/kit/drivers/postgres"'),
    );
  }
  // With a driver the same config is the driver's to use.
  const { driver } = recordingDriver();
  await using database = await db.create(cases[0][0], { driver });
  assert.equal((await database.sql<{ n: number }>`select 1`)[0].n, 1);
});
