/**
 * The db driver interface and its shared types.
 *
 * Drivers return the same shapes for the same SQL: int8 as `bigint`, numeric
 * as `string` (exact), json/jsonb parsed, timestamp/timestamptz as `Date`,
 * date as a `YYYY-MM-DD` string.
 *
 * @module
 */
import { DriverError } from "../internal/errors.ts";

/** Static settings of a db provider. */
export interface DbConfig {
  /** `postgres://user:password@host:port/database`; overrides the separate fields. */
  readonly url?: string;
  /**
   * Server host.
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
  /**
   * Server port.
   * @default {5432}
   */
  readonly port?: number;
  /** Database name. */
  readonly database?: string;
  /** User name. */
  readonly user?: string;
  /** Password. */
  readonly password?: string;
  /** Read replicas (`postgres://…` URLs); reads go there when set. */
  readonly replicas?: readonly string[];
  /**
   * With replicas: how often one that stopped answering is probed (`select 1`) to send reads back
   * to it, and (with metrics) how often replica lag is sampled.
   * @default {1000}
   */
  readonly replicaProbeIntervalMs?: number;
  /**
   * Connections per pool.
   * @default {10}
   */
  readonly poolSize: number;
  /**
   * Close a connection idle this long.
   * @default {30000}
   */
  readonly idleTimeoutMs: number;
  /**
   * Cancel a statement running this long (0: never).
   * @default {30000}
   */
  readonly statementTimeoutMs: number;
  /**
   * Log a statement that took at least this long (0: never).
   * @default {200}
   */
  readonly slowQueryMs: number;
  /** PGlite only: where to keep the data; in memory when absent. */
  readonly dataDir?: string;
}

/** Rows and count of one statement. */
export interface QueryResult {
  /** The rows, as objects keyed by column name. */
  readonly rows: Record<string, unknown>[];
  /** Rows returned or affected. */
  readonly rowCount: number;
}

/** Runs statements; one connection, or a pool handing out one per statement. */
export interface DbExecutor {
  /**
   * Runs one statement with bound parameters. `parts` are the literal pieces of `text` around the
   * `$n` placeholders, for clients with a faster tagged-template path. When `signal` aborts while
   * the statement runs, a driver that can cancels it on the server (PostgreSQL's cancel request);
   * the statement then fails, and its transaction can roll back at once.
   */
  query(
    text: string,
    params: readonly unknown[],
    parts?: readonly string[],
    signal?: AbortSignal,
  ): Promise<QueryResult>;
  /** Runs a script of one or more statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** A pool of connections to one server. */
export interface DbPool extends DbExecutor {
  /**
   * Runs `fn` on one connection inside `BEGIN ISOLATION LEVEL <isolation>`: commits when it
   * resolves, rolls back when it rejects (as far as the connection still lives), then rethrows.
   */
  transaction<R>(isolation: string, fn: (connection: DbExecutor) => Promise<R>): Promise<R>;
  /** Closes every connection. */
  close(): Promise<void>;
}

/** A database backend: connects pools for a config. */
export interface DbDriver {
  /** Name for errors and logs: `pglite`, `postgres`. */
  readonly name: string;
  /** Opens the primary pool and one pool per replica; rejects with a `DriverError` when unreachable. */
  connect(config: DbConfig): Promise<{ writer: DbPool; readers: DbPool[] }>;
}

/** A statement failed on the server: carries the SQLSTATE code, message and the statement. */
export class SqlError extends Error {
  /** The SQLSTATE code, such as `23505` (unique violation). */
  readonly code: string;
  /** The statement, with `$n` placeholders (no parameter values). */
  readonly query: string;
  /** The server's detail line, if any. */
  readonly detail: string | undefined;
  /** The constraint involved, if any. */
  readonly constraint: string | undefined;

  /**
   * Creates the error.
   *
   * @param code SQLSTATE.
   * @param message Server message.
   * @param query The statement.
   * @param extra Detail and constraint.
   */
  constructor(
    code: string,
    message: string,
    query: string,
    extra: { detail?: string; constraint?: string; cause?: unknown } = {},
  ) {
    super(
      `${message} (SQLSTATE ${code}) in: ${query.length > 200 ? query.slice(0, 200) + "…" : query}`,
      { cause: extra.cause },
    );
    this.name = "SqlError";
    this.code = code;
    this.query = query;
    this.detail = extra.detail;
    this.constraint = extra.constraint;
  }
}

/**
 * Translates what a PostgreSQL client threw: an error the server sent about a statement (it
 * carries `severity` and a SQLSTATE `code`) becomes a {@linkcode SqlError}; anything else, such
 * as a lost connection, a `DriverError` naming the driver and operation. What the server says of
 * the connection rather than a statement is a `DriverError` too: SQLSTATE class 08 (connection
 * exception), class 28 (authorization: a wrong password) and 57P01–57P03 (admin shutdown, crash
 * shutdown, cannot connect now).
 *
 * @param driver Driver name, for the `DriverError`.
 * @param operation The operation that failed.
 * @param error What the client threw.
 * @param query The statement, for the `SqlError`.
 * @returns The kit's error.
 */
export function databaseError(
  driver: string,
  operation: string,
  error: unknown,
  query: string,
): Error {
  const server = error as {
    severity?: unknown;
    code?: unknown;
    message?: string;
    detail?: string;
    constraint?: string; // PGlite (pg-protocol)
    constraint_name?: string; // postgres.js
  };
  if (
    typeof server?.severity === "string" && typeof server.code === "string" &&
    !connectionSqlstate(server.code)
  ) {
    return new SqlError(server.code, server.message ?? "error", query, {
      detail: server.detail,
      constraint: server.constraint ?? server.constraint_name,
      cause: error,
    });
  }
  return new DriverError(driver, operation, error);
}

/** SQLSTATEs of the connection rather than a statement: refused, dropped, or not authorized. */
const LOST_CONNECTION_SQLSTATE = /^(08...|28...|57P0[123])$/;

/**
 * Whether a SQLSTATE speaks of the connection rather than a statement (class 08, class 28,
 * 57P01–57P03), which {@linkcode databaseError} turns into a `DriverError`.
 *
 * @param code A SQLSTATE.
 * @returns True for a connection's SQLSTATE.
 */
export function connectionSqlstate(code: string): boolean {
  return LOST_CONNECTION_SQLSTATE.test(code);
}

/** SQLSTATE codes a transaction is retried on. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(["40001", "40P01"]);
