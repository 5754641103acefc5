/**
 * A throwaway PostgreSQL primary with a streaming replica (hot standby made by
 * `pg_basebackup -R`), for tests of read routing, replica lag and a replica lost mid-run.
 *
 * @module
 */
import {
  freePort,
  postgresArgs,
  postgresBin,
  type Recipe,
  runAs,
  runServer,
  serverAvailable,
  startServer,
  tcpOpen,
  type ThrowawayServer,
} from "./server.ts";

/** A running primary and its streaming replica; see {@linkcode startPostgresReplica}. */
export interface PostgresReplica extends AsyncDisposable {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` of the primary. */
  readonly primaryUrl: string;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` of the replica (read-only, hot standby). */
  readonly replicaUrl: string;
  /** The primary's server (kill, log, …). */
  readonly primary: ThrowawayServer;
  /** The replica's server (kill, log, …). */
  readonly replica: ThrowawayServer;
  /** Stops the replica gracefully (fast shutdown); the primary keeps running. */
  stopReplica(): Promise<void>;
  /** Starts the replica again on its port; resolves once it streams from the primary again. */
  startReplica(): Promise<void>;
  /** Stops both servers and deletes their data. */
  close(): Promise<void>;
}

/** Options of {@linkcode startPostgresReplica}. */
export interface StartPostgresReplicaOptions {
  /**
   * How long to wait for each server to answer, and for the replica to stream.
   * @default {30000}
   */
  readonly readyTimeoutMs?: number;
}

/**
 * Whether the binaries {@linkcode startPostgresReplica} needs are installed (postgres, initdb,
 * pg_basebackup, psql).
 *
 * @returns True when it can run.
 */
export function postgresReplicaAvailable(): boolean {
  return serverAvailable("postgres") && postgresBin("pg_basebackup") !== undefined &&
    postgresBin("psql") !== undefined;
}

/** The one value `sql` returns on the server at `port`, or undefined when it cannot be asked. */
async function psqlValue(port: number, sql: string): Promise<string | undefined> {
  const psql = postgresBin("psql");
  if (psql === undefined) throw new Error("Cannot query the throwaway postgres: psql is missing");
  const { code, stdout } = await new Deno.Command(psql, {
    args: ["-h", "127.0.0.1", "-p", `${port}`, "-U", "postgres", "-d", "postgres", "-XAtqc", sql],
    env: { PGCONNECT_TIMEOUT: "2" },
    stdout: "piped",
    stderr: "null",
  }).output();
  return code === 0 ? new TextDecoder().decode(stdout).trim() : undefined;
}

/** Polls `check` every 50 ms until it holds; throws `what` (with `log()`) after `timeoutMs`. */
async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  log: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms:\n${await log()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts a throwaway primary (`wal_level=replica`, WAL senders, initdb's `trust` rules, which
 * allow replication from 127.0.0.1) and a replica of it on its own free port, cloned with
 * `pg_basebackup -R` (so it starts as a standby streaming from the primary); resolves once the
 * primary's `pg_stat_replication` shows the replica streaming and the replica has replayed
 * everything the primary had written. As root, both run as the `postgres` user, as
 * {@linkcode startServer} does.
 *
 * @param options Readiness timeout.
 * @returns The pair; dispose of it (or `close()`) to stop both and delete their data.
 * @throws {Error} When a binary is missing or a server does not become ready (with its log).
 *
 * @example Stop the replica mid-run
 * ```ts ignore
 * import { startPostgresReplica } from "./pg_replica.ts";
 *
 * await using pair = await startPostgresReplica();
 * await pair.stopReplica(); // the primary keeps serving
 * await pair.startReplica(); // streams again
 * ```
 */
export async function startPostgresReplica(
  options: StartPostgresReplicaOptions = {},
): Promise<PostgresReplica> {
  const { readyTimeoutMs = 30_000 } = options;
  const basebackup = postgresBin("pg_basebackup");
  if (basebackup === undefined) {
    throw new Error(
      "Cannot start a throwaway postgres replica as 'pg_basebackup' is not installed",
    );
  }
  const primary = await startServer("postgres", {
    readyTimeoutMs,
    args: ["-c", "wal_level=replica", "-c", "max_wal_senders=10", "-c", "wal_keep_size=64MB"],
  });
  let replica: ThrowawayServer | undefined;
  let dir: string | undefined;
  try {
    const rules = await psqlValue(
      primary.port,
      "select count(*) from pg_hba_file_rules where 'replication' = any(database) and auth_method = 'trust' and (address is null or address = '127.0.0.1')",
    );
    if (rules === undefined || Number(rules) === 0) {
      throw new Error(
        `Cannot start a throwaway postgres replica as pg_hba has no trust rule for replication from 127.0.0.1:\n${await primary
          .log()}`,
      );
    }
    dir = await Deno.makeTempDir({ prefix: "kit-postgres-replica-" });
    const data = `${dir}/data`;
    const asUser = Deno.uid() === 0 ? "postgres" : undefined;
    const backupArgs = [
      "-h",
      "127.0.0.1",
      "-p",
      `${primary.port}`,
      "-U",
      "postgres",
      "-D",
      data,
      "-R",
      "-X",
      "stream",
      "-c",
      "fast",
      "--no-sync",
    ];
    await runAs(asUser, dir, basebackup, backupArgs);
    const port = await freePort();
    const spec: Recipe = {
      binary: postgresBin("postgres")!,
      args: [
        ...postgresArgs(data, port, dir),
        "-c",
        "hot_standby=on",
        // A replica gives up on a lost primary and retries in 1 s, not 5.
        "-c",
        "wal_retrieve_retry_interval=1s",
      ],
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      asUser,
      gracefulSignal: "SIGINT",
      ready: async () =>
        /database system is ready to accept read-only connections/.test(
          await Deno.readTextFile(`${dir}/server.log`).catch(() => ""),
        ) && await tcpOpen(port),
    };
    replica = await runServer("postgres", port, dir, spec, { readyTimeoutMs });
    const standby = replica;
    const streaming = () =>
      waitFor(
        async () => {
          const target = await psqlValue(primary.port, "select pg_current_wal_lsn()");
          const state = await psqlValue(
            primary.port,
            "select count(*) from pg_stat_replication where state = 'streaming'",
          );
          if (target === undefined || state !== "1") return false;
          const caughtUp = await psqlValue(
            standby.port,
            `select pg_is_in_recovery() and pg_last_wal_replay_lsn() >= '${target}'::pg_lsn`,
          );
          return caughtUp === "t";
        },
        readyTimeoutMs,
        "The throwaway postgres replica did not stream from its primary",
        async () => `primary:\n${await primary.log()}\nreplica:\n${await standby.log()}`,
      );
    await streaming();
    const close = async () => {
      await standby.close();
      await primary.close();
    };
    return {
      primaryUrl: primary.url,
      replicaUrl: standby.url,
      primary,
      replica: standby,
      stopReplica: () => standby.stop(),
      async startReplica() {
        await standby.start();
        await streaming();
      },
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    if (replica) await replica.close();
    else if (dir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    await primary.close();
    throw error;
  }
}
