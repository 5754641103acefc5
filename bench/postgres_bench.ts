/**
 * The db provider on the postgres driver beside raw postgres.js, 100 concurrent
 * `select 1` per iteration against the same server in one run: the provider's
 * overhead should stay within 5%. Also transactions beside postgres.js's `begin`, and PGlite's
 * start-up time.
 *
 * Run: KIT_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test deno bench --allow-all bench/postgres_bench.ts
 */
import postgres from "postgres";
import { alternateSegments } from "./_alternate.ts";
import * as db from "../db/mod.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import { postgresDb, postgresResultTypes } from "../drivers/postgres/mod.ts";

const url = Deno.env.get("KIT_POSTGRES_URL");
const ignore = url === undefined;
// The raw client gets the pool settings the driver uses, so only the kit's own code differs.
const rawClient = () =>
  postgres(url!, {
    max: 10,
    idle_timeout: 30,
    onnotice: () => {},
    types: postgresResultTypes,
    connection: { application_name: "raw", statement_timeout: 30_000 },
  });
const kitProvider = () =>
  db.create({ ...db.defaultConfig("production"), url, poolSize: 10 }, { driver: postgresDb() });
const raw = ignore ? undefined : rawClient();
const kit = ignore ? undefined : await kitProvider();
const batch = Array.from({ length: 100 });

Deno.bench("raw postgres.js: 100 concurrent select 1", {
  group: "select 1 x100",
  baseline: true,
  ignore,
}, async () => {
  await Promise.all(batch.map(() => raw!`select 1 as one`));
});
Deno.bench(
  "kit postgres driver: 100 concurrent select 1",
  { group: "select 1 x100", ignore },
  async () => {
    await Promise.all(batch.map(() => kit!.sql`select 1 as one`));
  },
);

// Transactions: postgres.js's begin against the kit's own BEGIN/COMMIT on a reserved connection
// (see ReservedTransaction in drivers/postgres/transaction.ts for why the kit does not use begin).
Deno.bench("raw postgres.js: 10 concurrent transactions of 2 statements", {
  group: "transaction x10",
  baseline: true,
  ignore,
}, async () => {
  await Promise.all(
    batch.slice(0, 10).map(() =>
      raw!.begin(async (sql) => {
        await sql`select 1 as one`;
        await sql`select 2 as two`;
      })
    ),
  );
});
Deno.bench("kit postgres driver: 10 concurrent transactions of 2 statements", {
  group: "transaction x10",
  ignore,
}, async () => {
  await Promise.all(
    batch.slice(0, 10).map(() =>
      kit!.transaction(async (tx) => {
        await tx.sql`select 1 as one`;
        await tx.sql`select 2 as two`;
      })
    ),
  );
});

Deno.bench("kit vs raw, alternating rounds on fresh pools (ratio printed)", {
  group: "alternating",
  n: 1,
  warmup: 0,
  ignore,
}, async () => {
  // postgres.js pools slow down the longer they run, so each of 30 segments starts every side
  // fresh: 35 rotating rounds of 100 queries each, the first 10 not counted. A second raw client
  // is the control: its ratio to the first is the noise of this measurement on this machine.
  const median = await alternateSegments(30, 35, 10, async () => {
    const raw = rawClient();
    const control = rawClient();
    // create() checks the kit's pool with a query; the raw pools connect the same way first.
    const kit = await kitProvider();
    await Promise.all([raw`select 1`, control`select 1`]);
    return {
      sides: {
        raw: () => Promise.all(batch.map(() => raw`select 1 as one`)),
        control: () => Promise.all(batch.map(() => control`select 1 as one`)),
        kit: () => Promise.all(batch.map(() => kit.sql`select 1 as one`)),
      },
      close: () => Promise.all([raw.end(), control.end(), kit.close()]),
    };
  });
  const baseline = (median.raw + median.control) / 2;
  console.log(
    `100 concurrent select 1, median of 750 rounds: raw ${median.raw.toFixed(3)} ms, control ${
      median.control.toFixed(3)
    } ms (control/raw ${(median.control / median.raw).toFixed(3)}), kit ${
      median.kit.toFixed(3)
    } ms: kit/raw ${(median.kit / median.raw).toFixed(3)}, kit over the mean of both raw pools ${
      (100 * (median.kit / baseline - 1)).toFixed(1)
    }%`,
  );
});

Deno.bench("PGlite: start an in-memory database, run select 1, close", {
  group: "pglite",
  n: 5,
  warmup: 1,
}, async () => {
  await using database = await db.create(db.defaultConfig("development"), { driver: pgliteDb() });
  await database.sql`select 1`;
});

globalThis.addEventListener("unload", () => {
  raw?.end();
  kit?.close();
});
