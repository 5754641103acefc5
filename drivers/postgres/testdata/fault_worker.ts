/**
 * A process for the PostgreSQL fault test: starts a transaction whose statement runs while the
 * test breaks the server, then reports how the transaction ended and how soon the pool answered
 * again. It runs apart from the test because postgres.js's failure mode ends the whole process.
 *
 * Protocol: prints `running` once the statement is on the server; the test then injects the
 * fault; the worker prints one JSON line with the outcome and exits 0. Any uncaught error or
 * unhandled rejection ends it with another code.
 */
import * as db from "../../../db/mod.ts";
import { postgresDb } from "../mod.ts";
import { quietLogger } from "../../../testing/logger.ts";

const [url, applicationName, table] = Deno.args;
const database = await db.create({ ...db.defaultConfig("development"), url, poolSize: 2 }, {
  driver: postgresDb({ applicationName, connectTimeoutMs: 2000 }),
  logger: quietLogger(),
});
await database.sql`create table if not exists ${db.identifier(table)} (id int4)`;

// Two transactions: one with a statement running, one idle in transaction, awaiting a timer.
const afterFault = Promise.withResolvers<void>();
const outcome = (promise: Promise<unknown>) =>
  promise.then(
    () => "committed",
    (error: Error) => `${error.name}${error instanceof db.DriverError ? "" : `: ${error.message}`}`,
  );
const running = outcome(database.transaction(async (tx) => {
  await tx.sql`insert into ${db.identifier(table)} values (1)`;
  await tx.sql`select pg_sleep(30)`;
}));
const idle = outcome(database.transaction(async (tx) => {
  await tx.sql`insert into ${db.identifier(table)} values (2)`;
  await afterFault.promise;
  // The connection is gone by now: this statement must fail, not reach a closed socket.
  await tx.sql`insert into ${db.identifier(table)} values (3)`;
}));

const control = postgresOnOwnConnection();
for (;;) {
  const [row] = await control.sql<{ n: number }>`select count(*)::int4 as n from pg_stat_activity
    where application_name = ${applicationName} and query like ${"%pg_sleep(30)%"}
    and state = 'active'`.catch(() => [{ n: 0 }]);
  if (row.n === 1) break;
  await new Promise((resolve) => setTimeout(resolve, 20));
}
await control.close();
console.log("running");

// The test has broken the server when the running statement fails.
const runningOutcome = await running;
const faultAt = Date.now();
afterFault.resolve();
const idleOutcome = await idle;
// Both pooled connections at once, as soon as the transactions have failed: a server that is up
// again runs them (postgres.js alone rejects the first statement after a reconnect with the
// FATAL error of the session the server ended).
const firstStatements = await Promise.all(
  [1, 2].map(() =>
    outcome(database.sql`select 1`).then((text) => text === "committed" ? "ok" : text)
  ),
);

// The pool must answer again within seconds: one attempt every 100 ms for 20 s.
let recoveredMs = -1;
let lastError = "";
while (Date.now() - faultAt < 20_000) {
  try {
    const [row] = await database.sql<{ one: number }>`select 1 as one`;
    if (row.one === 1) {
      recoveredMs = Date.now() - faultAt;
      break;
    }
  } catch (error) {
    lastError = `${(error as Error).name}: ${(error as Error).message}`;
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const [{ rows }] = await database.sql<{ rows: number }>`select count(*)::int4 as rows from ${
  db.identifier(table)
}`;
// A moment for anything the failure scheduled on a timer to run and crash us.
await new Promise((resolve) => setTimeout(resolve, 300));
await database.close();
console.log(
  JSON.stringify({ runningOutcome, idleOutcome, firstStatements, recoveredMs, lastError, rows }),
);

function postgresOnOwnConnection() {
  return {
    database: db.create({ ...db.defaultConfig("development"), url, poolSize: 1 }, {
      driver: postgresDb({ applicationName: `${applicationName}-control` }),
      logger: quietLogger(),
    }),
    sql<T>(strings: TemplateStringsArray, ...values: unknown[]): Promise<T[]> {
      return this.database.then((control) => control.sql<T>(strings, ...values));
    },
    async close() {
      await (await this.database).close();
    },
  };
}
