/**
 * The PostgreSQL reliability worker: each write inserts its number in a transaction of its own,
 * under the application name the test terminates. The table has no unique key, so a write the kit
 * ran twice shows as a duplicate row. Afterwards every acknowledged number must be there, once.
 *
 * Usage: `deno run -A postgres_worker.ts <url> <application name> <table>`; see `_workload.ts`
 * for the protocol.
 */
import { readBack, runWorkload } from "./_workload.ts";
import * as db from "../../db/mod.ts";
import { postgresDb } from "../../drivers/postgres/mod.ts";

const [url, applicationName, tableName] = Deno.args;
const table = db.identifier(tableName);

await runWorkload(async () => {
  const database = await db.create({ ...db.defaultConfig("production"), url }, {
    driver: postgresDb({ applicationName }),
  });
  await database.sql`create table ${table} (id int8 not null)`;
  return {
    write: (seq) =>
      database.transaction(async (tx) => {
        await tx.sql`insert into ${table} values (${seq})`;
      }),
    async verify(acknowledged, failed) {
      const rows = await readBack(() =>
        database.sql<{ id: number; copies: number }>`select id::float8 as id,
          count(*)::int4 as copies from ${table} group by id`
      );
      const stored = new Map(rows.map((row) => [row.id, row.copies]));
      return {
        lost: [...acknowledged].filter((seq) => !stored.has(seq)).length,
        duplicates: rows.reduce((sum, row) => sum + row.copies - 1, 0),
        ambiguous: [...failed].filter((seq) => stored.has(seq)).length,
      };
    },
    close: () => database.close(),
  };
});
