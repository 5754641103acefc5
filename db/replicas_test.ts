import assert from "node:assert/strict";
import * as metrics from "../metrics/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { capturingLogger } from "../testing/logger.ts";
import * as db from "./mod.ts";
import type { DbDriver, DbExecutor, DbPool } from "./driver.ts";

/** A pool answering `{ server: name }` (lag 0.25 s), or failing with a DriverError while down. */
function fakePool(name: string): DbPool & { down: boolean; queries: number } {
  const pool = {
    down: false,
    queries: 0,
    query(text: string) {
      pool.queries++;
      if (pool.down) return Promise.reject(new db.DriverError("fake", "query", "refused"));
      const row = /pg_is_in_recovery/.test(text) ? { lag: 0.25 } : { server: name };
      return Promise.resolve({ rows: [row], rowCount: 1 });
    },
    exec: () => Promise.resolve(),
    transaction: <R>(_isolation: string, fn: (connection: DbExecutor) => Promise<R>): Promise<R> =>
      fn(pool),
    close: () => Promise.resolve(),
  };
  return pool;
}

function fakeDriver() {
  const primary = fakePool("primary");
  const replica = fakePool("replica");
  const driver: DbDriver = {
    name: "fake",
    connect: () => Promise.resolve({ writer: primary, readers: [replica] }),
  };
  return { driver, primary, replica };
}

const config: db.DbConfig = {
  ...db.defaultConfig("development"),
  replicas: ["postgres://app:secret@replica-1:5433/app"],
  replicaProbeIntervalMs: 20,
};

const server = async (queryable: db.Queryable) =>
  (await queryable.sql<{ server: string }>`select server`)[0].server;

Deno.test("reader() goes to the replica, reader({ fresh: true }) and transactions to the primary", async () => {
  const { driver } = fakeDriver();
  await using database = await db.create(config, { driver });
  assert.equal(await server(database.reader()), "replica");
  assert.equal(await server(database.reader({ fresh: true })), "primary");
  assert.equal(await server(database.writer()), "primary");
  assert.equal(await database.transaction((tx) => server(tx)), "primary");
});

Deno.test("a replica down sends reads to the primary with one warning, and back once it answers", async () => {
  const { driver, replica } = fakeDriver();
  const { logger, logs } = capturingLogger();
  await using registry = await metrics.create({
    ...metrics.defaultConfig("development"),
    runtimeMetrics: false,
  });
  await using database = await db.create(config, { driver, logger, metrics: registry });
  await eventually(() =>
    assert.match(registry.render() ?? "", /db_replica_lag_seconds\{replica="replica-1:5433"\} 0.25/)
  );
  replica.down = true;
  for (let i = 0; i < 20; i++) assert.equal(await server(database.reader()), "primary");
  const warnings = logs.records.filter((record) => record.level === "warn");
  assert.equal(warnings.length, 1, "one warning per outage");
  assert.doesNotMatch(JSON.stringify(warnings), /secret/, "the replica's password is not logged");
  assert.match(registry.render() ?? "", /db_replica_up\{replica="replica-1:5433"\} 0/);
  assert.match(registry.render() ?? "", /db_replica_fallback_total \d+/);
  const tried = replica.queries;
  for (let i = 0; i < 5; i++) await server(database.reader());
  assert.ok(replica.queries - tried <= 2, "reads skip the down replica (only probes reach it)");
  replica.down = false;
  await eventually(async () => assert.equal(await server(database.reader()), "replica"));
  assert.match(registry.render() ?? "", /db_replica_up\{replica="replica-1:5433"\} 1/);
});

Deno.test("an SqlError on the replica is the caller's, not a fallback", async () => {
  const { driver, replica } = fakeDriver();
  replica.query = () => Promise.reject(new db.SqlError("42P01", "no such table", "select"));
  await using database = await db.create(config, { driver });
  await assert.rejects(database.reader().sql`select 1`, db.SqlError);
});

Deno.test("ping() answers for the primary: a down replica shows in replicas(), not in ping()", async () => {
  const { driver, primary, replica } = fakeDriver();
  await using database = await db.create(config, { driver, logger: capturingLogger().logger });
  await database.ping();
  assert.deepEqual(database.replicas(), [{ name: "replica-1:5433", up: true }]);
  replica.down = true;
  assert.equal(await server(database.reader()), "primary");
  assert.deepEqual(database.replicas(), [{ name: "replica-1:5433", up: false }]);
  await database.ping();
  primary.down = true;
  await assert.rejects(database.ping(), db.DriverError);
  primary.down = false;
  replica.down = false;
  await eventually(() =>
    assert.deepEqual(database.replicas(), [{ name: "replica-1:5433", up: true }])
  );
  await database.ping();
});

Deno.test("replicas() is empty without replicas", async () => {
  const primary = fakePool("primary");
  const driver: DbDriver = {
    name: "fake",
    connect: () => Promise.resolve({ writer: primary, readers: [] }),
  };
  await using database = await db.create({ ...config, replicas: undefined }, { driver });
  assert.deepEqual(database.replicas(), []);
  await database.ping();
});
