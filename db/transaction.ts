/**
 * Transactions on the primary: an isolation level, savepoints for nested calls, retries after
 * a serialization failure or deadlock, and an abort signal that rolls back.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { kitTracer, spanEvent } from "../internal/otel.ts";
import { abortable, optionalSignal, sleep } from "../internal/signal.ts";
import type { Queryable } from "./query.ts";
import type { TagFor } from "./sql_tags.ts";
import { tracedExec, tracedQuery, transactionSpan } from "./trace.ts";
import { type DbExecutor, type DbPool, RETRYABLE_SQLSTATES, SqlError } from "./types.ts";

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

/** Runs `fn` in a transaction; see {@linkcode TransactionOptions}. */
export type RunTransaction = <R>(
  fn: (tx: Transaction) => Promise<R>,
  options?: TransactionOptions,
) => Promise<R>;

const ISOLATION: Readonly<Record<Isolation, string>> = {
  "read committed": "read committed",
  "repeatable read": "repeatable read",
  "serializable": "serializable",
};

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

/** The transaction (or, at `depth` > 0, savepoint) on `connection`; `system` names it in spans. */
function transactionOn(
  tagFor: TagFor,
  system: string,
  connection: DbExecutor,
  depth: number,
  signal: AbortSignal | undefined,
): Transaction {
  return {
    sql: tagFor(() => connection, signal),
    exec: (script: string) =>
      signal?.aborted ? Promise.reject(signal.reason) : tracedExec(system, connection, script),
    async transaction<R>(fn: (tx: Transaction) => Promise<R>): Promise<R> {
      const savepoint = `kit_sp_${depth + 1}`;
      await tracedQuery(system, connection, `savepoint ${savepoint}`, []);
      try {
        const result = await fn(transactionOn(tagFor, system, connection, depth + 1, signal));
        await tracedQuery(system, connection, `release savepoint ${savepoint}`, []);
        return result;
      } catch (error) {
        await tracedQuery(system, connection, `rollback to savepoint ${savepoint}`, [])
          .catch(() => {});
        throw error;
      }
    },
  };
}

/** What transactions of a provider need: its primary, its tags, its logger, its `db.system`. */
export interface TransactionContext {
  /** The primary's pool. */
  readonly writer: DbPool;
  /** Makes the transactions' `sql` tags. */
  readonly tagFor: TagFor;
  /** Logs retries. */
  readonly logger: Logger;
  /** The `db.system` of its spans. */
  readonly system: string;
}

/**
 * The `transaction` method of a provider: with an OpenTelemetry SDK registered, each call is an
 * internal span `transaction` (retries included, each an event), parent of its statements' spans.
 */
export function transactions(context: TransactionContext): RunTransaction {
  const { system } = context;
  const run = attempts(context);
  return <R>(fn: (tx: Transaction) => Promise<R>, options?: TransactionOptions): Promise<R> => {
    const tracer = kitTracer();
    if (tracer === undefined) return run(fn, options);
    return transactionSpan(tracer, system, () => run(fn, options));
  };
}

/** Runs a transaction, retrying it on a serialization failure or deadlock. */
function attempts(context: TransactionContext): RunTransaction {
  const { writer, tagFor, logger, system } = context;
  return async <R>(
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
          return abortable(fn(transactionOn(tagFor, system, scope.connection, 0, signal)), signal)
            .finally(scope.end);
        });
      } catch (error) {
        if (error instanceof SqlError && RETRYABLE_SQLSTATES.has(error.code) && attempt < retries) {
          logger.info("transaction conflicted; retrying", {
            code: error.code,
            attempt: attempt + 1,
          });
          spanEvent("transaction retry", { "db.response.status_code": error.code });
          await sleep(5 * 2 ** attempt * (0.5 + Math.random()), signal);
          continue;
        }
        throw error;
      }
    }
  };
}
