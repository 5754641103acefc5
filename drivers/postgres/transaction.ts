/**
 * Transactions of the PostgreSQL driver on a reserved connection, with BEGIN, COMMIT and
 * ROLLBACK sent by the kit, made to survive a connection lost midway (postgres.js 3.4 bugs).
 *
 * @module
 */
import { DriverError } from "../../db/mod.ts";
import { connectionSqlstate, databaseError } from "../../db/driver.ts";
import type { DbExecutor } from "../../db/driver.ts";
import { type Client, executor, neverSent, type Sql } from "./executor.ts";

/**
 * postgres.js's connection object as the kit relies on it (3.4.x): while a reservation lasts,
 * `reserved` holds it; the library clears it when the socket closes.
 */
interface PooledConnection {
  reserved?: unknown;
}

/** postgres.js's `sql.reserve()`: queries on one connection until `release()`. */
type ReservedClient = Client & { release(): void };

/**
 * Codes of a lost connection besides the server's SQLSTATEs for one ({@linkcode connectionSqlstate}):
 * postgres.js's own and socket errors.
 */
const LOST_CONNECTION = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
]);

/** Whether `error` (a library error, or the kit's wrapping of one) means the connection is gone. */
function lostConnection(error: unknown): boolean {
  const cause = error instanceof DriverError ? error.cause : error;
  const code = (cause as { code?: unknown })?.code;
  return typeof code === "string" && (LOST_CONNECTION.has(code) || connectionSqlstate(code));
}

/**
 * A transaction on one reserved connection, with BEGIN, COMMIT and ROLLBACK sent by the kit.
 *
 * Not `sql.begin`: when the server drops a connection during a transaction, postgres.js 3.4
 * sends the ROLLBACK of `begin` (or a caller's next statement) on the closed connection, where
 * it throws from a timer and ends the process (porsager/postgres issues 1066, 1154, 1208), and
 * a handler that swallows that leaves the pool hung. Here every statement first checks that the
 * reservation still holds, in the same synchronous step that hands it to the connection, so none
 * is ever written to a closed (or reused) connection; after a loss, statements fail with a
 * `DriverError`, nothing is rolled back (the server did that) and the connection is not released
 * (postgres.js has already put it back among its closed ones).
 */
class ReservedTransaction {
  readonly #client: ReservedClient;
  readonly #statements: DbExecutor;
  #connection: PooledConnection | undefined;
  #reservation: unknown;
  #lost: Error | undefined;
  #ended = false;
  /** Rejections of statements awaiting a reply: postgres.js never settles those it queued locally. */
  readonly #waiting = new Set<(error: Error) => void>();
  /** What the caller runs statements on. */
  readonly executor: DbExecutor;

  constructor(client: ReservedClient) {
    this.#client = client;
    this.#statements = executor(client, false);
    this.executor = {
      query: (text, params, parts, signal) =>
        this.#run(() => this.#statements.query(text, params, parts, signal)),
      exec: (script) => this.#run(() => this.#statements.exec(script)),
    };
  }

  /** Sends BEGIN and learns which pooled connection the reservation holds. */
  async begin(isolation: string): Promise<void> {
    const pending = this.#client.unsafe(`begin isolation level ${isolation}`, [], {
      onexecute: (connection: PooledConnection) => {
        this.#connection = connection;
        this.#reservation = connection.reserved;
        return true; // more statements may follow on this connection
      },
    } as never);
    try {
      await this.#track(pending as unknown as Promise<unknown>, "begin");
    } catch (error) {
      this.#ended = true;
      this.#release();
      throw error instanceof DriverError
        ? error
        : databaseError("postgres", "begin", error, "begin");
    }
    if (this.#reservation === undefined) {
      // Only a postgres.js whose internals changed gets here: refuse rather than risk the crash.
      this.#ended = true;
      await this.#statements.query("rollback", []).catch(() => {});
      // Not #release(): without the field, #alive() cannot tell, and one release is owed.
      this.#client.release();
      throw new DriverError(
        "postgres",
        "begin",
        new Error("this postgres.js version does not expose the connection a transaction holds"),
      );
    }
  }

  /**
   * Ends the transaction with COMMIT or ROLLBACK and gives the connection back. From here on no
   * statement of the caller's reaches the connection, which may already serve someone else.
   */
  async end(statement: "commit" | "rollback"): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    const refused = this.#refusal(statement);
    if (refused) {
      // The server rolled back whatever the lost connection held.
      if (statement === "rollback") return;
      throw refused;
    }
    try {
      await this.#track(this.#statements.query(statement, []), statement);
    } finally {
      this.#release();
    }
  }

  /** Gives the connection back to the pool if it is still ours. */
  #release(): void {
    if (this.#alive()) this.#client.release();
  }

  #alive(): boolean {
    return this.#lost === undefined && this.#connection !== undefined &&
      this.#connection.reserved === this.#reservation;
  }

  /** Why a statement cannot be sent now, if it cannot. */
  #refusal(operation: string): Error | undefined {
    if (this.#lost === undefined && this.#connection?.reserved !== this.#reservation) {
      this.#lost = new Error("the connection was closed during the transaction");
    }
    if (this.#lost !== undefined) {
      return new DriverError(
        "postgres",
        operation,
        new Error(
          `the server rolled the transaction back as its connection was lost: ${this.#lost.message}`,
          { cause: this.#lost },
        ),
      );
    }
    return undefined;
  }

  #run<T>(send: () => Promise<T>): Promise<T> {
    if (this.#ended) {
      // The provider refuses these already; the connection may serve someone else by now.
      return Promise.reject(
        new Error("Cannot run a statement as its transaction has already ended"),
      );
    }
    const refused = this.#refusal("query");
    return refused ? Promise.reject(refused) : this.#track(send(), "query");
  }

  #track<T>(pending: Promise<T>, operation: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#waiting.add(reject);
      pending.then(
        (value) => {
          this.#waiting.delete(reject);
          resolve(value);
        },
        (error) => {
          this.#waiting.delete(reject);
          if (lostConnection(error)) this.#lose(error, operation);
          reject(error);
        },
      );
    });
  }

  /** The connection is gone: every statement still waiting fails now. */
  #lose(error: unknown, operation: string): void {
    this.#lost ??= error instanceof Error ? error : new Error(String(error));
    const lost = new DriverError("postgres", operation, this.#lost);
    for (const reject of this.#waiting) reject(lost);
    this.#waiting.clear();
  }
}

/** postgres.js's parsed options (`sql.options`), as far as `onclose` goes. */
interface CloseOption {
  onclose?: ((id: number) => void) | null;
}

/**
 * Calls listeners whenever one of a pool's connections closes, through postgres.js's `onclose`
 * option (chained to one the application set on its own client).
 */
export class PoolCloses {
  readonly #listeners = new Set<() => void>();
  readonly #options: CloseOption;
  readonly #previous: ((id: number) => void) | null | undefined;

  constructor(sql: Sql) {
    this.#options = (sql as unknown as { options: CloseOption }).options;
    this.#previous = this.#options.onclose;
    const previous = this.#previous;
    this.#options.onclose = (id) => {
      previous?.(id);
      for (const listener of [...this.#listeners]) listener();
    };
  }

  /** Calls `listener` on every close until the returned function is called. */
  listen(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Gives the client back its own `onclose`. */
  detach(): void {
    this.#options.onclose = this.#previous;
  }
}

/**
 * `sql.reserve()`, made to survive a postgres.js 3.4 bug: when a connection closes while
 * reservations wait, the pool reconnects it for the first one and then forgets it, so that
 * reservation never settles. Each close while this one waits sends another request (after the
 * close is handled); the first to arrive is used, any later one is released at once.
 */
function reserve(sql: Sql, closes: PoolCloses): Promise<ReservedClient> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let retries = 0;
    const stop = closes.listen(() => queueMicrotask(request));
    const request = () => {
      if (settled) return;
      (sql.reserve() as Promise<unknown>).then((client) => {
        const reserved = client as ReservedClient;
        if (settled) return reserved.release();
        settled = true;
        stop();
        resolve(reserved);
      }, (error) => {
        if (settled) return;
        // A FATAL error kept from an ended session: the request never reached the server.
        if (neverSent(error) && retries++ < 3) return request();
        settled = true;
        stop();
        reject(error);
      });
    };
    request();
  });
}

/** Runs `fn` in a transaction on a connection reserved from `sql`; see {@linkcode ReservedTransaction}. */
export async function runTransaction<R>(
  sql: Sql,
  closes: PoolCloses,
  isolation: string,
  fn: (connection: DbExecutor) => Promise<R>,
): Promise<R> {
  let client: ReservedClient;
  try {
    client = await reserve(sql, closes);
  } catch (error) {
    throw databaseError("postgres", "begin", error, "begin");
  }
  const transaction = new ReservedTransaction(client);
  await transaction.begin(isolation);
  let result: R;
  try {
    result = await fn(transaction.executor);
  } catch (error) {
    // The caller's error is what they see; a failed rollback only means the session is gone.
    await transaction.end("rollback").catch(() => {});
    throw error;
  }
  await transaction.end("commit");
  return result;
}
