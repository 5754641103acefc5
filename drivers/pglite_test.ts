import assert from "node:assert/strict";
import { dbConformance } from "../db/conformance.ts";
import * as db from "../db/mod.ts";
import { pgliteDb } from "./pglite.ts";

// PGlite takes seconds to start: one instance for the whole file (kept open by `shared`), each
// case in its own schema.
const driver = pgliteDb();
const shared = await db.create(db.defaultConfig("development"), { driver });
dbConformance({ name: "pglite", makeDriver: () => driver, config: {} });

Deno.test("db.create() without a driver loads PGlite lazily and runs real PostgreSQL", async () => {
  await using database = await db.create();
  assert.equal(database.driver, "pglite");
  const [row] = await database.sql<{ version: string }>`select version()`;
  assert.match(row.version, /PostgreSQL/);
});

Deno.test("PGlite queues concurrent transactions instead of interleaving them", async () => {
  await using database = await db.create(db.defaultConfig("development"), { driver: pgliteDb() });
  await database.sql`create table steps (tx int4, step int4)`;
  const run = (tx: number) =>
    database.transaction(async (t) => {
      for (let step = 0; step < 3; step++) {
        await t.sql`insert into steps values (${tx}, ${step})`;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
  await Promise.all([run(1), run(2), database.sql`insert into steps values (${0}, ${0})`]);
  const rows = await database.sql<{ tx: number }>`select tx from steps order by ctid`;
  const order = rows.map((row) => row.tx);
  // Each transaction's rows are contiguous: nothing ran inside another transaction.
  const runs = order.filter((tx, i) => i === 0 || tx !== order[i - 1]);
  assert.equal(new Set(runs).size, runs.length, `interleaved: ${order.join(",")}`);
});

Deno.test("bad db config fails at create() naming the field", async () => {
  await assert.rejects(
    db.create({ ...db.defaultConfig("production"), poolSize: 0 }),
    /'poolSize' must be an integer of at least 1/,
  );
  await assert.rejects(
    db.create({ ...db.defaultConfig("production"), url: "mysql://x" }),
    /must start with postgres:\/\//,
  );
  assert.throws(
    () => db.defaultConfig("prod" as never),
    /'env' must be "development" or "production"/,
  );
});

Deno.test("the shared PGlite instance closes with its last provider", async () => {
  await shared.close();
  await assert.rejects(async () => await shared.sql`select 1`);
});
