/**
 * db: SQL on PostgreSQL. Standalone mode runs a real PostgreSQL in process
 * (PGlite, loaded on first use), so the same SQL runs unchanged on a server
 * in cluster mode (`@gochat/kit/drivers/postgres`).
 *
 * - `sql` tagged template: values are bound parameters, never text.
 * - `reader({ signal })` / `writer({ signal })`: reads to replicas when configured; a signal
 *   aborts (and on PostgreSQL cancels) the queries made through them.
 * - `transaction(fn, { isolation, retries, signal })`: all or nothing, nested calls are savepoints,
 *   retried on serialization failure and deadlock.
 * - `migrate(migrations)`: each applied once, under an advisory lock.
 * - `sharded(table, { shardKey, shards })`: routing helpers; a query on the table without
 *   its shard key is an error that says so.
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
import { turnClock } from "../internal/clock.ts";
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import { fnv1a } from "../internal/hash.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import { abortable, optionalSignal, sleep, underSignal } from "../internal/queue.ts";
import type { Metrics } from "../metrics/mod.ts";
import {
  Deferred,
  type Identifier,
  identifier,
  MAX_IDENTIFIER_BYTES,
  SqlFragment,
  utf8Length,
} from "./sql.ts";
import {
  type DbConfig,
  type DbDriver,
  type DbExecutor,
  type DbPool,
  type QueryResult,
  RETRYABLE_SQLSTATES,
  SqlError,
} from "./types.ts";

export { DriverError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export { Deferred, fragment, Identifier, identifier, normalizeParams, SqlFragment } from "./sql.ts";
export { connectionSqlstate, databaseError, RETRYABLE_SQLSTATES, SqlError } from "./types.ts";
export type { DbConfig, DbDriver, DbExecutor, DbPool, QueryResult } from "./types.ts";

/** A transaction's connection that refuses every statement once `end` was called. */
function untilEnded(connection: DbExecutor): { connection: DbExecutor; end: () => void } {
  let ended = false;
  const refuse = () =>
    Promise.reject(new Error("Cannot run a statement as its transaction has already ended"));
  return {
    connection: {
      query: (text, params, parts, signal) =>
        ended ? refuse() : connection.query(text, params, parts, signal),
      exec: (script) => ended ? refuse() : connection.exec(script),
    },
    end: () => ended = true,
  };
}

/** A row as drivers return it. */
export type Row = Record<string, unknown>;

/**
 * How a provider runs its queries: the driver connection to send them on, and
 * what to do once one has finished (slow-query logging).
 */
export interface QueryRunner {
  /** Sends a rendered query. */
  send(text: string, params: readonly unknown[], parts: readonly string[]): Promise<QueryResult>;
  /** Whether to time queries (slow-query logging or metrics are on). */
  readonly timed: boolean;
  /** The time a timed query starts at, in ms (its origin is the runner's own). */
  now(): number;
  /** Called once per query that succeeded, with its text and start time (from `now`). */
  finished(text: string, startedAt: number): void;
  /** Called once per query that failed, when failures are counted. */
  readonly failed?: () => void;
}

/**
 * A query built by the `sql` tag: awaiting it runs it (once, however often it is awaited);
 * embedding it in another query nests it as a fragment.
 */
export class Query<T> extends SqlFragment implements Promise<T[]> {
  readonly #runner: QueryRunner;
  #sent: Promise<QueryResult> | undefined;
  #text = "";
  #startedAt = 0;
  #finished = false;

  /** Marks the object for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return "Query";
  }

  /**
   * Creates a query; use a provider's `sql` tag instead.
   *
   * @param strings Literal parts.
   * @param values Interpolated values.
   * @param runner Sends the rendered query.
   */
  constructor(strings: readonly string[], values: readonly unknown[], runner: QueryRunner) {
    super(strings, values);
    this.#runner = runner;
  }

  #send(): Promise<QueryResult> {
    if (this.#sent) return this.#sent;
    let rendered: { text: string; params: unknown[]; parts: readonly string[] };
    try {
      rendered = this.render();
    } catch (error) {
      return this.#sent = Promise.reject(error);
    }
    this.#text = rendered.text;
    // Whole milliseconds are enough for slow-query thresholds: one clock read per microtask turn.
    if (this.#runner.timed) this.#startedAt = this.#runner.now();
    this.#sent = this.#runner.send(rendered.text, rendered.params, rendered.parts);
    if (this.#runner.failed) this.#sent.catch(this.#runner.failed);
    return this.#sent;
  }

  #rows(result: QueryResult): T[] {
    if (!this.#finished) {
      this.#finished = true;
      if (this.#runner.timed) this.#runner.finished(this.#text, this.#startedAt);
    }
    return result.rows as T[];
  }

  /** Runs the query (the first time) and settles with its rows. */
  then<A = T[], B = never>(
    onfulfilled?: ((rows: T[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    // The rows go straight to the caller's callback: no promise in between.
    return this.#send().then(
      onfulfilled
        ? (result) => onfulfilled(this.#rows(result))
        : (result) => this.#rows(result) as unknown as A,
      onrejected,
    );
  }

  /** Runs the query (the first time) and handles its failure. */
  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<T[] | B> {
    return this.then(undefined, onrejected);
  }

  /** Runs the query (the first time) and calls `onfinally` when it settles. */
  finally(onfinally?: (() => void) | null): Promise<T[]> {
    return this.then().finally(onfinally);
  }
}

/** The `sql` tagged template of a provider, reader, writer or transaction. */
export interface SqlTag {
  /** Builds a query whose interpolated values are bound parameters. */
  <T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Query<T>;
}

/** Something queries can run on. */
export interface Queryable {
  /** The `sql` tag bound to this connection, pool or transaction. */
  readonly sql: SqlTag;
}

/** Isolation levels of `transaction`. */
export type Isolation = "read committed" | "repeatable read" | "serializable";

/** Options of `transaction`. */
export interface TransactionOptions {
  /**
   * Isolation level.
   * @default {"read committed"}
   */
  readonly isolation?: Isolation;
  /**
   * Extra attempts after a serialization failure (40001) or deadlock (40P01).
   * @default {3}
   */
  readonly retries?: number;
  /**
   * Aborts the transaction: a statement running is cancelled on the server where the driver
   * can (PostgreSQL; PGlite lets it finish), the transaction rolls back, no further statement of
   * it is sent, no retry starts, and the call rejects with the signal's reason.
   */
  readonly signal?: AbortSignal;
}

/** A transaction in progress. */
export interface Transaction extends Queryable {
  /** Runs a script of statements without parameters (DDL, migrations) inside the transaction. */
  exec(script: string): Promise<void>;
  /** Runs `fn` in a savepoint: its failure rolls back only its own work, then rethrows. */
  transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R>;
}

/** One migration: an id recorded once applied, and SQL or a function to run. */
export interface Migration {
  /** Unique, stable id, such as `001_create_users`. */
  readonly id: string;
  /** A script of one or more statements. */
  readonly sql?: string;
  /** Or a function run inside the migration's transaction. */
  readonly up?: (tx: Transaction) => Promise<void>;
}

/** How a sharded table maps a key to a shard. */
export type ShardStrategy = "hash" | "modulo";

/** Options of `sharded`. */
export interface ShardOptions {
  /** The column that decides the shard. */
  readonly shardKey: string;
  /** Number of physical tables, `<table>_0` … `<table>_{n-1}`. */
  readonly shards: number;
  /**
   * `hash` (FNV-1a of the key's text) or `modulo` (integer keys).
   * @default {"hash"}
   */
  readonly strategy?: ShardStrategy;
}

/** A table split into physical tables by a shard key. */
export interface ShardedTable {
  /** The logical name. */
  readonly table: string;
  /** The shard key column. */
  readonly shardKey: string;
  /** The physical table names, by shard. */
  readonly tables: readonly string[];
  /** The shard a key belongs to. */
  shardOf(key: unknown): number;
  /** The physical table for a key, to interpolate in `sql`. */
  for(key: unknown): Identifier;
}

/** Options of `reader` and `writer`. */
export interface QueryOptions {
  /**
   * Aborts the queries made through the returned `sql`: one not sent yet is not sent, one running
   * is cancelled on the server where the driver can (PostgreSQL), and each rejects with the
   * signal's reason.
   */
  readonly signal?: AbortSignal;
}

/** A db provider. */
export interface Db extends Queryable, AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /** Queries for reads: on a replica when configured (round robin), else on the primary. */
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
   * Checks that the primary and every replica answer (`select 1`), for readiness probes.
   *
   * @throws {DriverError} When one does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
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
   * `db_query_errors_total{role}`; `role` is `primary` or `replica`.
   */
  readonly metrics?: Pick<Metrics, "counter" | "histogram">;
}

/**
 * The recommended configuration: pools of 5 (development) or 10 (production),
 * 30 s idle and statement timeouts, statements of 200 ms and more logged as slow.
 * No address: PGlite needs none; give `url` (or host, …) for PostgreSQL.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): DbConfig {
  const poolSize = requireEnv("db", env) === "development" ? 5 : 10;
  return { poolSize, idleTimeoutMs: 30_000, statementTimeoutMs: 30_000, slowQueryMs: 200 };
}

const ISOLATION: Readonly<Record<Isolation, string>> = {
  "read committed": "read committed",
  "repeatable read": "repeatable read",
  "serializable": "serializable",
};
// pg_advisory_xact_lock key of the migration lock: "kitmigr" as a number.
const MIGRATION_LOCK = 0x6b69746d696772n;

const CONFIG_KEYS = [
  "url",
  "host",
  "port",
  "database",
  "user",
  "password",
  "replicas",
  "poolSize",
  "idleTimeoutMs",
  "statementTimeoutMs",
  "slowQueryMs",
  "dataDir",
] as const satisfies readonly (keyof DbConfig)[];
// Keys that address a server, which the default in-process driver (PGlite) would ignore.
const SERVER_KEYS = ["url", "host", "port", "user", "password", "replicas"] as const;

function validateConfig(config: DbConfig, driver: DbDriver | undefined): void {
  const tlsHint = "TLS is a driver option: postgresDb({ url, tls: { ca } })";
  checkConfig("db", config, CONFIG_KEYS, { hints: { ssl: tlsHint, tls: tlsHint } });
  for (const field of ["poolSize", "idleTimeoutMs", "statementTimeoutMs", "slowQueryMs"] as const) {
    const value = config[field];
    const min = field === "poolSize" ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(
        `Cannot create db as '${field}' must be an integer of at least ${min}: current value is ${value}`,
      );
    }
  }
  for (const url of [config.url, ...(config.replicas ?? [])]) {
    if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
      throw new TypeError(
        `Cannot create db as a URL must start with postgres://: current value is ${
          JSON.stringify(url)
        }`,
      );
    }
  }
  if (
    config.port !== undefined &&
    (!Number.isSafeInteger(config.port) || config.port <= 0 || config.port > 65535)
  ) {
    throw new RangeError(
      `Cannot create db as 'port' must be from 1 to 65535: current value is ${config.port}`,
    );
  }
  const server = SERVER_KEYS.filter((key) => config[key] !== undefined);
  if (driver === undefined && server.length > 0) {
    throw new TypeError(
      `Cannot create db as ${server.map((key) => `'${key}'`).join(", ")} ${
        server.length === 1 ? "names" : "name"
      } a PostgreSQL server but no driver was given, so the data would live in this process's memory (PGlite): pass { driver: postgresDb() } from "@gochat/kit/drivers/postgres"`,
    );
  }
}

function sharded(table: string, options: ShardOptions): ShardedTable {
  identifier(table);
  const { shardKey, shards, strategy = "hash" } = options ?? ({} as ShardOptions);
  if (typeof shardKey !== "string" || shardKey.length === 0) {
    throw new TypeError(
      `Cannot shard table '${table}' as 'shardKey' must be a column name: current value is ${
        JSON.stringify(shardKey)
      }`,
    );
  }
  if (!Number.isSafeInteger(shards) || shards < 1) {
    throw new RangeError(
      `Cannot shard table '${table}' as 'shards' must be a positive integer: current value is ${shards}`,
    );
  }
  if (strategy !== "hash" && strategy !== "modulo") {
    throw new RangeError(
      `Cannot shard table '${table}' as 'strategy' must be "hash" or "modulo": current value is ${
        JSON.stringify(strategy)
      }`,
    );
  }
  const tables = Array.from({ length: shards }, (_, i) => `${table}_${i}`);
  // The last shard has the longest name; PostgreSQL would cut it to the others' and merge them.
  const longest = tables[shards - 1].split(".").at(-1)!;
  if (utf8Length(longest) > MAX_IDENTIFIER_BYTES) {
    throw new RangeError(
      `Cannot shard table '${table}' as shard table '${longest}' is ${
        utf8Length(longest)
      } UTF-8 bytes, and PostgreSQL truncates names longer than ${MAX_IDENTIFIER_BYTES}: shorten the table name`,
    );
  }
  const shardOf = (key: unknown): number => {
    if (key === undefined || key === null) {
      throw new TypeError(
        `Cannot route a query on sharded table '${table}' without its shard key '${shardKey}'`,
      );
    }
    if (strategy === "modulo") {
      if (typeof key === "bigint") {
        return Number(((key % BigInt(shards)) + BigInt(shards)) % BigInt(shards));
      }
      if (typeof key === "number" && Number.isSafeInteger(key)) {
        return ((key % shards) + shards) % shards;
      }
      throw new TypeError(
        `Cannot route on sharded table '${table}' by modulo as shard key '${shardKey}' must be an integer: current value is ${
          String(key)
        }`,
      );
    }
    return fnv1a(String(key)) % shards;
  };
  // Interpolating the logical table itself is the mistake of forgetting the shard key.
  const logical = new Deferred(() => {
    throw new TypeError(
      `Cannot query sharded table '${table}' without its shard key '${shardKey}': interpolate ${table}.for(${shardKey}) instead`,
    );
  });
  return Object.assign(logical, {
    table,
    shardKey,
    tables,
    shardOf,
    for: (key: unknown) => identifier(tables[shardOf(key)]),
  });
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
  const driver = options.driver ?? (await import("../drivers/pglite.ts")).pgliteDb();
  const logger = options.logger ?? namespace("db");
  const { writer, readers } = await driver.connect(config);

  const durations = options.metrics?.histogram("db_query_duration_seconds", {
    help: "Time from sending a query to its result, for queries that succeeded.",
    labels: ["role"],
  });
  const errors = options.metrics?.counter("db_query_errors_total", {
    help: "Queries that failed.",
    labels: ["role"],
  });
  const timed = config.slowQueryMs > 0 || durations !== undefined;
  // Whole ms read once per microtask turn are enough for slow-query logs; metrics need more.
  const now = durations ? () => performance.now() : turnClock;
  type Role = "primary" | "replica";
  const roleHooks = (role: Role): Pick<QueryRunner, "finished" | "failed"> => {
    const observe = durations?.with({ role });
    const error = errors?.with({ role });
    return {
      finished: (text, startedAt) => {
        const ms = now() - startedAt;
        if (config.slowQueryMs > 0 && ms >= config.slowQueryMs) {
          logger.warn("slow query", { ms: Math.round(ms), statement: text });
        }
        observe?.observe(ms / 1000);
      },
      failed: error && (() => error.inc()),
    };
  };
  const hooks: Record<Role, Pick<QueryRunner, "finished" | "failed">> = {
    primary: roleHooks("primary"),
    replica: roleHooks("replica"),
  };
  const tagFor = (
    executor: () => DbExecutor,
    signal?: AbortSignal,
    role: Role = "primary",
  ): SqlTag => {
    // One runner per tag, not a closure per query.
    const runner: QueryRunner = {
      send: signal
        ? (text, params, parts) =>
          underSignal(signal, () => executor().query(text, params, parts, signal))
        : (text, params, parts) => executor().query(text, params, parts),
      timed,
      now,
      ...hooks[role],
    };
    return <T>(strings: TemplateStringsArray, ...values: unknown[]) =>
      new Query<T>(strings, values, runner);
  };

  const toWriter = () => writer;
  let nextReader = 0;
  const toReader = readers.length === 0 ? toWriter : () => readers[nextReader++ % readers.length];
  const writerQueryable: Queryable = { sql: tagFor(toWriter) };
  const readerRole: Role = readers.length === 0 ? "primary" : "replica";
  const readerQueryable: Queryable = { sql: tagFor(toReader, undefined, readerRole) };
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

  const transactionOn = (
    connection: DbExecutor,
    depth: number,
    signal: AbortSignal | undefined,
  ): Transaction => ({
    sql: tagFor(() => connection, signal),
    exec: (script: string) =>
      signal?.aborted ? Promise.reject(signal.reason) : connection.exec(script),
    async transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
      const savepoint = `kit_sp_${depth + 1}`;
      await connection.query(`savepoint ${savepoint}`, []);
      try {
        const result = await fn(transactionOn(connection, depth + 1, signal));
        await connection.query(`release savepoint ${savepoint}`, []);
        return result;
      } catch (error) {
        await connection.query(`rollback to savepoint ${savepoint}`, []).catch(() => {});
        throw error;
      }
    },
  });

  const transaction = async <R>(
    fn: (tx: Transaction) => Promise<R>,
    options: TransactionOptions = {},
  ): Promise<R> => {
    const { isolation = "read committed", retries = 3 } = options;
    const signal = optionalSignal("start transaction", options.signal);
    if (!(isolation in ISOLATION)) {
      throw new RangeError(
        `Cannot start transaction as 'isolation' must be one of ${
          Object.keys(ISOLATION).join(", ")
        }: current value is ${JSON.stringify(isolation)}`,
      );
    }
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new RangeError(
        `Cannot start transaction as 'retries' must be a non-negative integer: current value is ${retries}`,
      );
    }
    for (let attempt = 0;; attempt++) {
      signal?.throwIfAborted();
      try {
        return await writer.transaction(ISOLATION[isolation], (connection) => {
          // Statements sent after the callback settled (not awaited, or sent after an abort)
          // would run outside the transaction, on a connection that may serve someone else.
          const scope = untilEnded(connection);
          // An abort ends the callback at once, so the driver rolls back.
          return abortable(fn(transactionOn(scope.connection, 0, signal)), signal)
            .finally(scope.end);
        });
      } catch (error) {
        if (error instanceof SqlError && RETRYABLE_SQLSTATES.has(error.code) && attempt < retries) {
          logger.info("transaction conflicted; retrying", {
            code: error.code,
            attempt: attempt + 1,
          });
          await sleep(5 * 2 ** attempt * (0.5 + Math.random()), signal);
          continue;
        }
        throw error;
      }
    }
  };

  const migrate = async (migrations: readonly Migration[]): Promise<string[]> => {
    const ids = new Set<string>();
    for (const migration of migrations) {
      if (typeof migration?.id !== "string" || migration.id.length === 0) {
        throw new TypeError(
          `Cannot migrate as every migration needs a non-empty 'id': got ${
            JSON.stringify(migration?.id)
          }`,
        );
      }
      if (ids.has(migration.id)) {
        throw new TypeError(`Cannot migrate as id '${migration.id}' appears twice`);
      }
      if ((migration.sql === undefined) === (migration.up === undefined)) {
        throw new TypeError(
          `Cannot migrate as migration '${migration.id}' needs exactly one of 'sql' or 'up'`,
        );
      }
      ids.add(migration.id);
    }
    return await transaction(async (tx) => {
      // Serializes migrators across instances: the second waits, then finds everything applied.
      await tx.sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`;
      await tx
        .sql`create table if not exists kit_migrations (id text primary key, applied_at timestamptz not null default now())`;
      const applied = new Set(
        (await tx.sql<{ id: string }>`select id from kit_migrations`).map((row) => row.id),
      );
      const now: string[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.id)) continue;
        if (migration.up) await migration.up(tx);
        else await tx.exec(migration.sql as string);
        await tx.sql`insert into kit_migrations (id) values (${migration.id})`;
        now.push(migration.id);
        logger.info("migration applied", { id: migration.id });
      }
      return now;
    });
  };

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await Promise.all([writer, ...readers].map((pool: DbPool) => pool.close()));
    })();

  return {
    driver: driver.name,
    sql: writerQueryable.sql,
    reader: (options) =>
      queryable("query a reader", readerQueryable, toReader, options, readerRole),
    writer: (options) =>
      queryable("query the writer", writerQueryable, toWriter, options, "primary"),
    transaction,
    migrate,
    sharded,
    ping: (options?: PingOptions) =>
      pingProvider("db", driver.name, () => closed !== undefined, options, async () => {
        await Promise.all([writer, ...readers].map((pool) => pool.query("select 1", [])));
      }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
