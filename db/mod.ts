/**
 * db: SQL on PostgreSQL. Standalone mode runs a real PostgreSQL in process
 * (PGlite, loaded on first use), so the same SQL runs unchanged on a server
 * in cluster mode (`@gochat/kit/drivers/postgres`).
 *
 * - `sql` tagged template: values are bound parameters, never text.
 * - `reader({ signal, fresh })` / `writer({ signal })`: reads to replicas when configured; a signal
 *   aborts (and on PostgreSQL cancels) the queries made through them. `reader({ fresh: true })`
 *   reads on the primary, to see the caller's own writes (replicas lag behind it); transactions
 *   always run on the primary. A replica that stops answering gets no reads (they go to the
 *   primary, with one warning) until a probe finds it back.
 * - `transaction(fn, { isolation, retries, signal })`: all or nothing, nested calls are savepoints,
 *   retried on serialization failure and deadlock.
 * - `migrate(migrations)`: each applied once, under an advisory lock.
 * - `sharded(table, { shardKey, shards })`: routing helpers; a query on the table without
 *   its shard key is an error that says so.
 * - OpenTelemetry: with an SDK registered, each statement is a client span (`SELECT users`,
 *   `db.statement` with its `$n` placeholders, never the values) and each transaction an
 *   internal span `transaction`, parent of its statements; without one, nothing is allocated.
 *
 * @example Rows on the in-process PostgreSQL
 * ```ts ignore
 * import { db } from "@gochat/kit";
 *
 * await using database = await db.create(db.defaultConfig("development"));
 * await database.sql`create table users (id int8 primary key, name text)`;
 * await database.sql`insert into users values (${1n}, ${"ann"})`;
 * const rows = await database.sql<{ id: bigint; name: string }>`select * from users`;
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { optionalSignal } from "../internal/signal.ts";
import type { Metrics } from "../metrics/mod.ts";
import { defaultConfig, validateConfig } from "./config.ts";
import { defaultDriver } from "./default_driver.ts";
import { type Migration, migrator } from "./migrate.ts";
import type { Queryable } from "./query.ts";
import { replicaName, replicaSet, type ReplicaStatus } from "./replicas.ts";
import { sharded, type ShardedTable, type ShardOptions } from "./shard.ts";
import { type Role, sqlTags } from "./sql_tags.ts";
import { dbSystem } from "./trace.ts";
import { type Transaction, type TransactionOptions, transactions } from "./transaction.ts";
import type { DbConfig, DbDriver, DbExecutor, DbPool } from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { defaultConfig } from "./config.ts";
export type { Migration } from "./migrate.ts";
export { Query } from "./query.ts";
export type { Queryable, Row, SqlTag } from "./query.ts";
export type { ReplicaStatus } from "./replicas.ts";
export type { ShardedTable, ShardOptions, ShardStrategy } from "./shard.ts";
export { Deferred, fragment, Identifier, identifier, SqlFragment } from "./sql.ts";
export type { Isolation, Transaction, TransactionOptions } from "./transaction.ts";
export { SqlError } from "./types.ts";
export type { DbConfig } from "./types.ts";

/** Options of `reader` and `writer`. */
export interface QueryOptions {
  /**
   * Aborts the queries made through the returned `sql`: one not sent yet is not sent, one running
   * is cancelled on the server where the driver can (PostgreSQL), and each rejects with the
   * signal's reason.
   */
  readonly signal?: AbortSignal;
  /**
   * `reader` only: read on the primary instead of a replica, for a read that must see a write
   * this process just made (read-your-writes): a replica applies the primary's writes a moment
   * later. `writer` and transactions are always on the primary.
   * @default {false}
   */
  readonly fresh?: boolean;
}

/** A db provider. */
export interface Db extends Queryable, AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /**
   * Queries for reads: on a replica when configured (round robin over those that answer), else
   * on the primary; on the primary too with `fresh: true` (read-your-writes). A read whose replica
   * fails with a `DriverError` (stopped, unreachable) runs again on the primary, and the replica
   * gets no reads until it answers a probe (every `replicaProbeIntervalMs`).
   *
   * @throws {TypeError} When `fresh` is not a boolean.
   */
  reader(options?: QueryOptions): Queryable;
  /** Queries on the primary. */
  writer(options?: QueryOptions): Queryable;
  /** Runs `fn` in a transaction on the primary; commits when it resolves, rolls back when it throws. */
  transaction<R>(fn: (tx: Transaction) => Promise<R>, options?: TransactionOptions): Promise<R>;
  /** Applies the migrations not applied yet, in order; resolves to the ids applied now. */
  migrate(migrations: readonly Migration[]): Promise<string[]>;
  /** Routing helpers for a sharded table. */
  sharded(table: string, options: ShardOptions): ShardedTable;
  /**
   * Checks that the primary answers (`select 1`), for readiness probes: writes, transactions and
   * fresh reads run on it, and reads fall back to it, so while it answers every call can work.
   * A replica that does not answer does not fail the ping (its reads go to the primary, with a
   * warning and `db_replica_up` 0); {@linkcode Db.replicas} tells which replicas get reads.
   *
   * @throws {DriverError} When the primary does not answer, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /**
   * Each replica's state, in the order of the config's `replicas` (empty without replicas): a
   * replica is `up: false` from a read or probe that found it unreachable until a probe (every
   * `replicaProbeIntervalMs`) finds it back.
   */
  replicas(): ReplicaStatus[];
  /** Closes every pool. */
  close(): Promise<void>;
}

/** Dependencies of a db provider. */
export interface CreateOptions {
  /** The backend; PGlite (in process, loaded on first use) by default. */
  readonly driver?: DbDriver;
  /** Logger for slow queries and retries; `clog.namespace("db")` by default. */
  readonly logger?: Logger;
  /**
   * Where to record `db_query_duration_seconds{role}` (queries that succeeded) and
   * `db_query_errors_total{role}`; `role` is `primary` or `replica` (reads routed to the
   * replicas, those the primary served during an outage included). With replicas, also
   * `db_replica_fallback_total` (reads the primary served as no replica answered) and, when it
   * has `gauge`, `db_replica_lag_seconds{replica}` (sampled every `replicaProbeIntervalMs`) and
   * `db_replica_up{replica}` (1 while the replica gets reads); `replica` is its `host:port`.
   */
  readonly metrics?: Pick<Metrics, "counter" | "histogram"> & Partial<Pick<Metrics, "gauge">>;
}

/**
 * Creates a db provider and checks that it can connect.
 *
 * @param config Connection, pool and logging settings; see {@linkcode defaultConfig}.
 * @param options Driver (PGlite by default) and logger.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 * @throws {DriverError} When the database cannot be reached.
 */
export async function create(
  config: DbConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Db> {
  validateConfig(config, options.driver);
  const driver = options.driver ?? await defaultDriver();
  const logger = options.logger ?? namespace("db");
  const { writer, readers } = await driver.connect(config);
  const system = dbSystem(driver.name);
  const tagFor = sqlTags(config, logger, options.metrics, system);

  const toWriter = () => writer;
  const replicas = readers.length === 0 ? undefined : replicaSet({
    writer,
    readers,
    names: readers.map((_, i) => replicaName(config.replicas?.[i], i)),
    logger,
    metrics: options.metrics,
    probeIntervalMs: config.replicaProbeIntervalMs ?? 1000,
  });
  const toReader = replicas ? () => replicas.executor : toWriter;
  const writerQueryable: Queryable = { sql: tagFor(toWriter) };
  const readerRole: Role = readers.length === 0 ? "primary" : "replica";
  const readerQueryable: Queryable = { sql: tagFor(toReader, undefined, readerRole) };
  // A signal needs tags of its own; without one, every call shares the provider's.
  const queryable = (
    action: string,
    shared: Queryable,
    executor: () => DbExecutor,
    options: QueryOptions | undefined,
    role: Role,
  ): Queryable => {
    const signal = optionalSignal(action, options?.signal);
    return signal ? { sql: tagFor(executor, signal, role) } : shared;
  };
  const transaction = transactions({ writer, tagFor, logger, system });

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      const probeStopped = replicas?.stop();
      await Promise.all([writer, ...readers].map((pool: DbPool) => pool.close()));
      await probeStopped;
    })();

  return {
    driver: driver.name,
    sql: writerQueryable.sql,
    reader: (options) => {
      const fresh: unknown = options?.fresh;
      if (fresh !== undefined && typeof fresh !== "boolean") {
        throw new TypeError(
          `Cannot query a reader as 'fresh' must be a boolean: current value is ${fresh}`,
        );
      }
      return fresh
        ? queryable("query a reader", writerQueryable, toWriter, options, "primary")
        : queryable("query a reader", readerQueryable, toReader, options, readerRole);
    },
    writer: (options) =>
      queryable("query the writer", writerQueryable, toWriter, options, "primary"),
    transaction,
    migrate: migrator(transaction, logger),
    sharded,
    ping: (options?: PingOptions) =>
      pingProvider("db", driver.name, () => closed !== undefined, options, async () => {
        await writer.query("select 1", []);
      }),
    replicas: () => replicas?.status() ?? [],
    close,
    [Symbol.asyncDispose]: close,
  };
}
