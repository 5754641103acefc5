import assert from "node:assert/strict";
import { dbConformance } from "../db/conformance.ts";
import * as db from "../db/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { freePort, serverAvailable, startServer, type ThrowawayServer } from "../testing/server.ts";
import { quietLogger } from "../testing/logger.ts";
import { serviceUrl } from "../testing/services.ts";
import postgres from "postgres";
import { postgresDb, postgresResultTypes } from "./postgres.ts";

const url = serviceUrl("postgres");

dbConformance({
  name: "postgres",
  makeDriver: () => postgresDb(),
  config: { url: url ?? "postgres://postgres@127.0.0.1:5432/test" },
  ignore: url === undefined,
});

Deno.test({
  name:
    "[postgres] fault: terminated backends — the next query reconnects, a transaction in flight commits nothing",
  ignore: url === undefined,
  async fn() {
    const applicationName = `kit-fault-${crypto.randomUUID().slice(0, 8)}`;
    await using admin = await db.create({ ...db.defaultConfig("development"), url }, {
      driver: postgresDb(),
      logger: quietLogger(),
    });
    await using app = await db.create({ ...db.defaultConfig("development"), url, poolSize: 2 }, {
      driver: postgresDb({ applicationName }),
      logger: quietLogger(),
    });
    const table = db.identifier(`fault_${applicationName.replaceAll("-", "_")}`);
    await app.sql`create table ${table} (id int4)`;
    try {
      // pg_terminate_backend only signals: wait until the backends are gone and the client has
      // read the server's goodbye on each idle connection.
      const terminate = async () => {
        await admin
          .sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${applicationName}`;
        await eventually(async () => {
          const left = await admin
            .sql`select 1 from pg_stat_activity where application_name = ${applicationName}`;
          assert.equal(left.length, 0);
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
      };

      await terminate();
      const [row] = await app.sql<{ one: number }>`select 1 as one`;
      assert.equal(row.one, 1, "the next query ran on a new connection");

      await assert.rejects(
        app.transaction(async (tx) => {
          await tx.sql`insert into ${table} values (1)`;
          await terminate();
          await tx.sql`insert into ${table} values (2)`;
        }),
        (error: Error) => error instanceof db.SqlError || error instanceof db.DriverError,
      );
      const rows = await app.sql`select * from ${table}`;
      assert.equal(rows.length, 0, "nothing of the interrupted transaction was committed");
      await app.sql`insert into ${table} values (3)`;
      assert.equal((await app.sql`select * from ${table}`).length, 1);
    } finally {
      await admin.sql`drop table if exists ${table}`;
    }
  },
});

/** Server faults injected while a transaction's statement runs. */
const faults: [
  string,
  (server: ThrowawayServer, admin: db.Db, applicationName: string) => Promise<void>,
][] = [
  ["pg_terminate_backend", async (_server, admin, applicationName) => {
    await admin.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = ${applicationName}`;
  }],
  ["fast restart", async (server) => {
    await server.stop();
    await server.start();
  }],
  ["crash restart (SIGKILL to the postmaster)", async (server) => {
    await server.kill();
    await server.start();
  }],
  [
    "a backend crash (SIGKILL to the statement's backend: the server resets every session)",
    async (_server, admin, applicationName) => {
      const [{ pid }] = await admin.sql<{ pid: number }>`select pid from pg_stat_activity
      where application_name = ${applicationName} and query like ${"%pg_sleep(30)%"}`;
      Deno.kill(pid, "SIGKILL");
    },
  ],
];

Deno.test({
  name:
    "[postgres] fault: a connection lost mid-transaction rejects it with a DriverError, the process lives and the pool answers again",
  ignore: url === undefined || !serverAvailable("postgres"),
  async fn(t) {
    await using server = await startServer("postgres");
    for (const [fault, inject] of faults) {
      await t.step(fault, async () => {
        const applicationName = `kit-lost-${crypto.randomUUID().slice(0, 8)}`;
        const worker = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-all",
            new URL("./testdata/postgres_fault_worker.ts", import.meta.url).pathname,
            server.url,
            applicationName,
            `lost_${applicationName.slice(-8)}`,
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let out = "";
        while (!out.includes("running\n")) {
          const { value, done } = await lines.read();
          if (done) break;
          out += value;
        }
        if (out.includes("running\n")) {
          await using admin = await db.create({
            ...db.defaultConfig("development"),
            url: server.url,
          }, {
            driver: postgresDb({ applicationName: "kit-fault-admin" }),
            logger: quietLogger(),
          });
          await inject(server, admin, applicationName);
        }
        for (;;) {
          const { value, done } = await lines.read();
          if (done) break;
          out += value;
        }
        const { code } = await worker.status;
        const stderr = await new Response(worker.stderr).text();
        assert.equal(code, 0, `the worker process died (exit ${code}):\n${out}\n${stderr}`);
        const report = JSON.parse(out.trim().split("\n").at(-1)!);
        assert.equal(report.runningOutcome, "DriverError", "the running statement's transaction");
        assert.equal(report.idleOutcome, "DriverError", "the idle transaction's next statement");
        assert.ok(
          report.recoveredMs >= 0 && report.recoveredMs < 10_000,
          `the pool answered again after ${report.recoveredMs} ms (last error: ${report.lastError})`,
        );
        assert.equal(report.rows, 0, "nothing of either transaction was committed");
        if (fault === "pg_terminate_backend") {
          assert.deepEqual(report.firstStatements, ["ok", "ok"], "the server never went away");
        }
        console.log(`${fault}: pool answered ${report.recoveredMs} ms after the fault`);
      });
    }
  },
});

Deno.test({
  name: "[postgres] reads go to the replicas, writes and transactions to the primary",
  ignore: url === undefined,
  async fn() {
    // The "replica" is the same server under another application name, so the session shows which pool ran.
    const replicaUrl = `${url}${url?.includes("?") ? "&" : "?"}application_name=kit-replica`;
    await using database = await db.create(
      { ...db.defaultConfig("development"), url, replicas: [replicaUrl] },
      { driver: postgresDb({ applicationName: "kit-primary" }), logger: quietLogger() },
    );
    const name = async (queryable: db.Queryable) =>
      (await queryable.sql<{ name: string }>`select current_setting('application_name') as name`)[0]
        .name;
    assert.equal(await name(database.reader()), "kit-replica");
    assert.equal(await name(database.writer()), "kit-primary");
    assert.equal(await name(database), "kit-primary");
    assert.equal(await database.transaction((tx) => name(tx)), "kit-primary");
  },
});

Deno.test({
  name:
    "[postgres] create() against an unreachable server fails with a DriverError naming postgres",
  ignore: url === undefined,
  async fn() {
    const port = await freePort(); // nothing listens there
    await assert.rejects(
      db.create({
        ...db.defaultConfig("production"),
        url: `postgres://postgres@127.0.0.1:${port}/test`,
      }, {
        driver: postgresDb({ connectTimeoutMs: 2000 }),
      }),
      (error: Error) =>
        error instanceof db.DriverError && error.driver === "postgres" &&
        error.operation === "connect",
    );
  },
});

Deno.test({
  name:
    "[postgres] an application's own postgres.js client: used as the primary, checked for result shapes, left open",
  ignore: url === undefined,
  async fn() {
    const client = postgres(url!, { max: 2, onnotice: () => {}, types: postgresResultTypes });
    try {
      {
        await using database = await db.create(db.defaultConfig("production"), {
          driver: postgresDb({ client }),
        });
        assert.deepEqual(await database.sql`select ${5n}::int8 as n, current_database() as name`, [
          { n: 5n, name: new URL(url!).pathname.slice(1) },
        ]);
        const table = db.identifier(`own_client_${crypto.randomUUID().slice(0, 8)}`);
        await database.transaction(async (tx) => {
          await tx.sql`create temp table ${table} (id int4) on commit drop`;
          await tx.sql`insert into ${table} values (1)`;
          assert.deepEqual(await tx.sql`select id from ${table}`, [{ id: 1 }]);
        });
      }
      assert.deepEqual(
        Array.from(await client`select 1 as one`),
        [{ one: 1 }],
        "the provider's close left the client open",
      );
    } finally {
      await client.end({ timeout: 5 });
    }

    const plain = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      await assert.rejects(
        db.create(db.defaultConfig("production"), { driver: postgresDb({ client: plain }) }),
        /must return int8 as bigint and dates as text/,
      );
      assert.deepEqual(Array.from(await plain`select 2 as two`), [{ two: 2 }], "still open");
    } finally {
      await plain.end({ timeout: 5 });
    }
    assert.throws(
      () => postgresDb({ client: {} as never }),
      /'client' must be a postgres.js client/,
    );
  },
});

// A 30 s statement, aborted while it runs: the call returns at once and the server stops it.
const cancellable: [string, (database: db.Db, signal: AbortSignal) => Promise<unknown>][] = [
  [
    "an aborted transaction cancels its running statement on the server and returns at once",
    (database, signal) =>
      database.transaction(async (tx) => {
        await tx.sql`select pg_sleep(30)`;
      }, { signal }),
  ],
  [
    "writer({ signal }): an abort cancels the running query on the server and returns at once",
    (database, signal) => database.writer({ signal }).sql`select pg_sleep(30)`,
  ],
];
for (const [title, start] of cancellable) {
  Deno.test({
    name: `[postgres] ${title}`,
    ignore: url === undefined,
    async fn() {
      const applicationName = `kit-cancel-${crypto.randomUUID().slice(0, 8)}`;
      await using database = await db.create({ ...db.defaultConfig("production"), url }, {
        driver: postgresDb({ applicationName }),
        logger: quietLogger(),
      });
      const sleeping = async () => {
        const [row] = await database.sql<{ n: number }>`select count(*)::int4 as n
          from pg_stat_activity where application_name = ${applicationName}
          and pid <> pg_backend_pid() and state = 'active' and query like ${"%pg_sleep(30)%"}`;
        return row.n;
      };
      const controller = new AbortController();
      const startedAt = Date.now();
      const outcome = start(database, controller.signal)
        .then(() => "finished", (error) => (error as Error).message);
      try {
        await eventually(async () => assert.equal(await sleeping(), 1, "the statement is running"));
      } finally {
        controller.abort(new Error("request deadline"));
      }
      assert.equal(await outcome, "request deadline");
      const tookMs = Date.now() - startedAt;
      assert.ok(tookMs < 5000, `returned after ${tookMs} ms, not after the 30 s statement`);
      await eventually(async () =>
        assert.equal(await sleeping(), 0, "the server no longer runs it")
      );
    },
  });
}
