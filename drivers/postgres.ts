/**
 * The PostgreSQL driver of db, over npm:postgres (postgres.js): a pool for
 * the primary and one per read replica, results shaped like the PGlite driver's.
 *
 * @example Cluster mode
 * ```ts ignore
 * import { db } from "@gochat/kit";
 * import { postgresDb } from "@gochat/kit/drivers/postgres";
 *
 * await using database = await db.create(
 *   { ...db.defaultConfig("production"), url: "postgres://app@127.0.0.1:5432/app" },
 *   { driver: postgresDb() },
 * );
 * ```
 *
 * @module
 */
import postgres from "postgres";
import {
  connectionSqlstate,
  create as createDb,
  databaseError,
  type Db,
  type DbConfig,
  type DbDriver,
  type DbExecutor,
  type DbPool,
  defaultConfig as defaultDbConfig,
  DriverError,
  fragment,
  type Identifier,
  identifier,
  normalizeParams,
  type Queryable,
  type QueryResult,
  type SqlFragment,
} from "../db/mod.ts";
import {
  BM25_B,
  BM25_K1,
  type BulkResult,
  type Doc,
  type DriverQuery,
  type FieldType,
  type IndexedDoc,
  MappingConflictError,
  mergeMappings,
  type SearchDriver,
  type SearchResult,
} from "../es/mod.ts";
import { redactText, redactUrl, scrubError } from "../internal/redact.ts";
import { checkConfig } from "../internal/config.ts";
import { tlsServername } from "../internal/tls.ts";

/** A postgres.js custom type: the OIDs it reads and writes, and its conversions. */
export interface PostgresType<T> {
  /** The OID values are sent as. */
  readonly to: number;
  /** The OIDs parsed with `parse`. */
  readonly from: number[];
  /** From a JavaScript value to the text sent. */
  serialize(value: T): unknown;
  /** From the text received to a JavaScript value. */
  parse(text: string): T;
}

/**
 * The postgres.js `types` option that gives the kit's result shapes (the PGlite driver's):
 * int8 exact as `bigint`, dates as `"YYYY-MM-DD"` text. The driver's own pools use it; give it to
 * a client of your own that you pass as `client`: `postgres(url, { types: postgresResultTypes })`.
 */
export const postgresResultTypes: {
  readonly bigint: PostgresType<bigint>;
  readonly date: PostgresType<string>;
} = {
  bigint: postgres.BigInt as PostgresType<bigint>,
  date: {
    to: 1082,
    from: [1082],
    serialize: (value: string) => value,
    parse: (text: string) => text,
  },
};

/**
 * A postgres.js client the application already has (`postgres(url, options)` from npm:postgres),
 * for {@linkcode PostgresDbOptions.client}. Declared by the kit, not imported from postgres.js,
 * so the kit's public types stay its own; any postgres.js client fits.
 */
export interface PostgresClient {
  /** Runs a tagged-template query. */
  (strings: TemplateStringsArray, ...values: never[]): PromiseLike<unknown>;
  /** Runs a query from text. */
  unsafe(query: string, ...rest: never[]): PromiseLike<unknown>;
  /** Reserves one connection (the kit runs transactions on it). */
  reserve(): Promise<unknown>;
  /** Closes the pool. */
  end(options?: { timeout?: number }): Promise<void>;
}

/** Options of {@linkcode postgresDb}. */
export interface PostgresDbOptions {
  /**
   * An existing postgres.js client to use as the primary instead of opening a pool from the db
   * config (whose connection and pool settings then apply only to replicas). The provider never
   * closes it. It must return the kit's result shapes, which `connect` checks: create it with
   * `types: postgresResultTypes`.
   */
  readonly client?: PostgresClient;
  /**
   * `application_name` of the connections, as `pg_stat_activity` shows it.
   * @default {"gochat-kit"}
   */
  readonly applicationName?: string;
  /**
   * How long to wait for a connection.
   * @default {10000}
   */
  readonly connectTimeoutMs?: number;
  /**
   * Verified TLS: `true` checks the server's certificate against the system's CAs, an object
   * against its own CA and name. (A URL's `?sslmode=require` encrypts but verifies nothing; give
   * one or the other.)
   */
  readonly tls?: true | PostgresTlsOptions;
}

/** TLS settings of {@linkcode PostgresDbOptions.tls}; the server's certificate is always checked. */
export interface PostgresTlsOptions {
  /**
   * CA certificate(s) (PEM) the server's certificate must chain to.
   * @default {the system's CAs}
   */
  readonly ca?: string;
  /** Client certificate (PEM), for servers that ask for one (`clientcert=verify-full`); needs `key`. */
  readonly cert?: string;
  /** Private key (PEM) of `cert`. */
  readonly key?: string;
  /**
   * The name the server's certificate must carry, a DNS name or an IP address, when it is not
   * the host connected to.
   * @default {the host of the URL or config}
   */
  readonly servername?: string;
}

function checkTls(tls: unknown): void {
  if (tls === undefined || tls === true) return;
  const fields = tls as Record<string, unknown>;
  const bad = typeof tls !== "object" || tls === null
    ? ["tls", tls]
    : (["ca", "cert", "key", "servername"] as const)
      .map((field) => [`tls.${field}`, fields[field]] as const)
      .find(([, value]) => value !== undefined && (typeof value !== "string" || value === ""));
  if (bad) {
    throw new TypeError(
      `Cannot create postgres driver as '${bad[0]}' must be ${
        bad[0] === "tls" ? "true or an object" : "a non-empty string"
      }: current value is ${typeof bad[1] === "string" ? JSON.stringify(bad[1]) : String(bad[1])}`,
    );
  }
  if ((fields.cert === undefined) !== (fields.key === undefined)) {
    throw new TypeError("Cannot create postgres driver as 'tls.cert' and 'tls.key' go together");
  }
}

/** postgres.js's `ssl` for verified TLS to `host` (see {@linkcode tlsServername} for IPs). */
function sslSettings(tls: true | PostgresTlsOptions, host: string): Record<string, unknown> {
  const { ca, cert, key, servername } = tls === true ? {} as PostgresTlsOptions : tls;
  const name = servername ?? host;
  return {
    rejectUnauthorized: true,
    servername: tlsServername(name),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key }),
  };
}

type Sql = ReturnType<typeof postgres>;

type PendingQuery = Promise<unknown[] & { count?: number }> & { cancel(): unknown };

type TaggedClient = (strings: TemplateStringsArray, ...values: unknown[]) => PendingQuery;

/** Sends PostgreSQL's cancel request for `pending` when `signal` aborts before it settles. */
function cancelOnAbort(pending: PendingQuery, signal: AbortSignal): void {
  const cancel = () => void pending.cancel();
  if (signal.aborted) return cancel();
  signal.addEventListener("abort", cancel, { once: true });
  const forget = () => signal.removeEventListener("abort", cancel);
  pending.then(forget, forget);
}

/**
 * Template-strings arrays by statement text. postgres.js's tagged-template path is faster than
 * unsafe(), and it keys its per-statement work on the identity of this array, so each distinct
 * statement keeps one array.
 */
const templates = new Map<string, TemplateStringsArray>();

function templateFor(text: string, parts: readonly string[]): TemplateStringsArray {
  // A call site's own template strings are already one stable array per statement.
  if (Array.isArray((parts as TemplateStringsArray).raw)) return parts as TemplateStringsArray;
  let strings = templates.get(text);
  if (!strings) {
    if (templates.size >= 4096) templates.clear();
    strings = Object.freeze(
      Object.assign([...parts], { raw: Object.freeze([...parts]) }),
    ) as unknown as TemplateStringsArray;
    templates.set(text, strings);
  }
  return strings;
}

/** A postgres.js client or reserved connection, as far as queries go. */
type Client = Pick<Sql, "unsafe">;

/** Seconds before reconnect attempt `retries`: 50 ms doubling to 2 s, with jitter. */
function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 2);
}

/** postgres.js's result as the kit's: a plain array, like PGlite's, and the row count. */
function toQueryResult(result: unknown[] & { count?: number }): QueryResult {
  // An indexed copy: Array.from takes the iterator path on the subclass, ~0.5 µs for a single row.
  const length = result.length;
  const rows = new Array<Record<string, unknown>>(length);
  for (let i = 0; i < length; i++) rows[i] = result[i] as Record<string, unknown>;
  return { rows, rowCount: result.count ?? length };
}

/**
 * Whether a statement failed with the goodbye of a server that dropped an earlier session on the
 * same pooled connection, before the statement was sent. postgres.js 3.4 keeps a FATAL error
 * (57P01–57P03) that arrived during a statement whose connection then closed, and rejects the
 * first statement after the reconnect with it; a statement that was running when its connection
 * closed fails with CONNECTION_CLOSED instead. So such a statement never ran and can be sent again.
 */
function neverSent(error: unknown): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return severity === "FATAL" && (code === "57P01" || code === "57P02" || code === "57P03");
}

/**
 * Statements on `client`. A pool's (`pooled`) are sent once more after {@linkcode neverSent};
 * a reserved connection's are not, as a reservation never reconnects.
 */
function executor(client: Client, pooled: boolean): DbExecutor {
  const send = (
    text: string,
    params: readonly unknown[],
    parts: readonly string[] | undefined,
    signal: AbortSignal | undefined,
  ): PendingQuery => {
    const pending = parts
      ? (client as unknown as TaggedClient)(templateFor(text, parts), ...normalizeParams(params))
      : client.unsafe(text, normalizeParams(params) as never[], { prepare: true }) as PendingQuery;
    if (signal) cancelOnAbort(pending, signal);
    return pending;
  };
  return {
    query(
      text: string,
      params: readonly unknown[],
      parts?: readonly string[],
      signal?: AbortSignal,
    ): Promise<QueryResult> {
      // Plain .then chaining: this is the hot path.
      const fail = (error: unknown): never => {
        throw databaseError("postgres", "query", error, text);
      };
      return send(text, params, parts, signal).then(
        toQueryResult,
        (error) =>
          pooled && neverSent(error) && !signal?.aborted
            ? send(text, params, parts, signal).then(toQueryResult, fail)
            : fail(error),
      );
    },
    async exec(script: string): Promise<void> {
      // Without parameters postgres.js uses the simple protocol, which runs several statements.
      const run = () => client.unsafe(script);
      try {
        await run().then(
          undefined,
          (error) => pooled && neverSent(error) ? run() : Promise.reject(error),
        );
      } catch (error) {
        throw databaseError("postgres", "exec", error, script);
      }
    },
  };
}

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

/**
 * Calls listeners whenever one of a pool's connections closes, through postgres.js's `onclose`
 * option (chained to one the application set on its own client).
 */
/** postgres.js's parsed options (`sql.options`), as far as `onclose` goes. */
interface CloseOption {
  onclose?: ((id: number) => void) | null;
}

class PoolCloses {
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
async function runTransaction<R>(
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

const POSTGRES_DB_OPTIONS = [
  "client",
  "applicationName",
  "connectTimeoutMs",
  "tls",
] as const satisfies readonly (keyof PostgresDbOptions)[];

class PostgresDriver implements DbDriver {
  readonly name = "postgres";
  readonly #options: PostgresDbOptions;

  constructor(options: PostgresDbOptions) {
    checkConfig("postgresDb", options, POSTGRES_DB_OPTIONS, {
      argument: "options",
      noun: "option",
      hints: { ssl: "use 'tls': true, or { ca, cert, key, servername }" },
    });
    const client: unknown = options?.client;
    const methods = client as { unsafe?: unknown; reserve?: unknown };
    if (
      client !== undefined &&
      (typeof client !== "function" || typeof methods.unsafe !== "function" ||
        typeof methods.reserve !== "function")
    ) {
      throw new TypeError(
        `Cannot create postgres driver as 'client' must be a postgres.js client: current value is ${client}`,
      );
    }
    checkTls(options?.tls);
    this.#options = options;
  }

  #pool(config: DbConfig, url: string | undefined): DbPool {
    return this.#wrap(this.#open(config, url), true);
  }

  #open(config: DbConfig, url: string | undefined): Sql {
    const tls = this.#options.tls;
    let ssl: Record<string, unknown> | undefined;
    if (tls !== undefined) {
      if (url !== undefined && /[?&](sslmode|ssl)=/.test(url)) {
        throw new TypeError(
          `Cannot create postgres driver as both 'tls' and the URL's sslmode set TLS: keep one (current URL ${
            redactUrl(url)
          })`,
        );
      }
      // The authority of a URL (postgres.js also takes several hosts: h1:5432,h2:5432).
      const authority = url?.replace(/^[^:]*:\/\/([^@/?]*@)?/, "").split(/[/?]/)[0];
      if (authority?.includes(",") && (tls === true || tls.servername === undefined)) {
        throw new TypeError(
          `Cannot create postgres driver as 'tls.servername' must be given for a URL of several hosts (one name is checked for all): current URL ${
            redactUrl(url!)
          }`,
        );
      }
      // Without a host of its own, postgres.js connects to PGHOST: the certificate must name that.
      const hosts = authority === undefined || authority === "" ? hostsOf(config, url) : authority;
      if (hosts.includes(",") && (tls === true || tls.servername === undefined)) {
        throw new TypeError(
          `Cannot create postgres driver as 'tls.servername' must be given for several hosts (one name is checked for all): current hosts are ${
            JSON.stringify(hosts)
          }`,
        );
      }
      const host = decodeURIComponent(hosts.match(/^\[[^\]]*\]|^[^:]*/)![0]);
      ssl = sslSettings(tls, host);
    }
    const settings = {
      ...(ssl ? { ssl } : {}),
      max: config.poolSize,
      idle_timeout: config.idleTimeoutMs > 0 ? config.idleTimeoutMs / 1000 : undefined,
      connect_timeout: (this.#options.connectTimeoutMs ?? 10_000) / 1000,
      onnotice: () => {},
      // Reconnect attempts back off to 2 s at most (postgres.js: 20 s). A server back after an
      // outage is used within 2 s, and close() leaves no reconnect timer longer than that:
      // postgres.js's end() does not cancel one, and a 20 s timer held the process open.
      backoff: reconnectBackoff,
      types: postgresResultTypes,
      connection: {
        application_name: this.#options.applicationName ?? "gochat-kit",
        ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
      },
    };
    // A field left undefined is postgres.js's to fill, from PGHOST, PGPORT, PGDATABASE, PGUSER and
    // PGPASSWORD; the kit's own defaults (127.0.0.1:5432) apply only where those are unset too.
    return url ? postgres(url, settings) : postgres({
      ...settings,
      host: config.host ?? (pgEnv("PGHOST") === undefined ? DEFAULT_HOST : undefined),
      port: config.port ?? (pgEnv("PGPORT") === undefined ? DEFAULT_PORT : undefined),
      database: config.database,
      username: config.user,
      password: config.password,
    });
  }

  /** The pool over a client; `owned` clients are closed with it. */
  #wrap(sql: Sql, owned: boolean): DbPool {
    const closes = new PoolCloses(sql);
    return {
      ...executor(sql, true),
      transaction: <R>(isolation: string, fn: (connection: DbExecutor) => Promise<R>) =>
        runTransaction(sql, closes, isolation, fn),
      close: () => {
        closes.detach();
        return owned ? sql.end({ timeout: 5 }) : Promise.resolve();
      },
    };
  }

  async connect(config: DbConfig): Promise<{ writer: DbPool; readers: DbPool[] }> {
    const client = this.#options.client;
    const writer = client
      ? this.#wrap(client as unknown as Sql, false)
      : this.#pool(config, config.url);
    const readers = (config.replicas ?? []).map((url) => this.#pool(config, url));
    const pools = [writer, ...readers];
    const addresses = [client ? "the given client" : addressOf(config, config.url)]
      .concat((config.replicas ?? []).map((url) => addressOf(config, url)));
    const secrets = [config.password, ...[config.url, ...(config.replicas ?? [])].map(passwordOf)]
      .filter((secret): secret is string => typeof secret === "string" && secret !== "");
    try {
      await Promise.all(pools.map((pool, i) =>
        pool.query("select 1", []).catch((error) => {
          throw connectFailure(error, addresses[i], secrets);
        })
      ));
      if (client) await checkShapes(writer);
    } catch (error) {
      await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
      throw error;
    }
    return { writer, readers };
  }
}

/** The kit's host and port when neither the config, the URL nor PGHOST / PGPORT give one. */
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 5432;

/**
 * A PostgreSQL variable of the environment as postgres.js sees it: unset when empty, and when
 * reading it is not permitted (the kit's defaults then apply, and postgres.js is not asked to
 * read it either).
 */
function pgEnv(name: "PGHOST" | "PGPORT"): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hosts postgres.js connects to for a pool without a URL host: the config's, else PGHOST's
 * (comma-separated, each maybe with a port, or a Unix socket directory), else the kit's default.
 * A URL with an empty authority (`postgres:///db`) gets PGHOST or postgres.js's `localhost`.
 */
function hostsOf(config: DbConfig, url: string | undefined): string {
  return (url === undefined ? config.host : undefined) ?? pgEnv("PGHOST") ??
    (url === undefined ? DEFAULT_HOST : "localhost");
}

/**
 * `host:port` of a pool, for messages (never the password): where postgres.js 3.4 really connects,
 * PGHOST and PGPORT included, each host of a list with its own port or the default one.
 */
function addressOf(config: DbConfig, url: string | undefined): string {
  const authority = url?.replace(/^[^:]*:\/\/([^@/?]*@)?/, "").split(/[/?]/)[0];
  const hosts = authority || hostsOf(config, url);
  // postgres.js's default port: the config's, else the URL's first host's, else PGPORT, else 5432.
  const first = hosts.split(",")[0].match(/^(?:\[[^\]]*\]|[^:]*):(\d+)$/)?.[1];
  const port = (url === undefined ? config.port : undefined) ?? (authority ? first : undefined) ??
    pgEnv("PGPORT") ?? DEFAULT_PORT;
  // A host with a '/' is the directory of a Unix socket.
  if (hosts.includes("/")) return `${hosts}/.s.PGSQL.${port}`;
  return hosts.split(",")
    .map((host) => /^(\[[^\]]*\]|[^:]*)$/.test(host) ? `${host}:${port}` : host)
    .join(",");
}

function passwordOf(url: string | undefined): string | undefined {
  const userinfo = url?.match(/^[^:]*:\/\/([^@/?]*)@/)?.[1];
  const colon = userinfo?.indexOf(":") ?? -1;
  return colon < 0 ? undefined : decodeURIComponent(userinfo!.slice(colon + 1));
}

/** Why a pool could not connect, in words that say which failure it was, with the address. */
function connectFailure(error: unknown, address: string, secrets: readonly string[]): DriverError {
  const cause = error instanceof DriverError ? error.cause : error;
  const { code, message } = cause as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(cause);
  const kind = String(code ?? "");
  const reason = kind.startsWith("28")
    ? `authentication failed at ${address}: ${text}`
    : kind === "ECONNREFUSED"
    ? `connection refused at ${address} (no server listens there)`
    : kind === "CONNECT_TIMEOUT"
    ? `no connection to ${address} within the connect timeout`
    : /CERT|SSL|TLS|UNABLE_TO|SELF_SIGNED/.test(kind) || /certificate|\bTLS\b|\bSSL\b/i.test(text)
    ? `TLS to ${address} failed: ${text}`
    : `${text} (at ${address})`;
  const scrubbed = scrubError(cause, secrets);
  return new DriverError(
    "postgres",
    "connect",
    new Error(redactText(reason, secrets), { cause: scrubbed }),
  );
}

/** An application's client must give the same result shapes as the kit's own pools. */
async function checkShapes(pool: DbPool): Promise<void> {
  const { rows: [row] } = await pool.query("select 1::int8 as n, '2024-01-02'::date as d", []);
  if (typeof row.n !== "bigint" || row.d !== "2024-01-02") {
    throw new TypeError(
      "Cannot use the postgres.js 'client' as it must return int8 as bigint and dates as text: create it with { types: postgresResultTypes } from @gochat/kit/drivers/postgres",
    );
  }
}

/**
 * Creates the PostgreSQL driver; the connection settings come from the db config.
 *
 * @param options Application name, connect timeout, TLS, or an existing client.
 * @returns The driver.
 * @throws {TypeError} On an unknown option (`ssl`: use `tls`), or a bad client or TLS setting.
 */
export function postgresDb(options: PostgresDbOptions = {}): DbDriver {
  return new PostgresDriver(options);
}

/** Options of {@linkcode postgresSearch}: a kit db provider to use, or a URL to connect to. */
export interface PostgresSearchOptions {
  /**
   * A db provider of the application (PostgreSQL, or PGlite in process); the driver does not
   * close it.
   */
  readonly db?: Db;
  /** Or a PostgreSQL URL: the driver opens (and closes) a provider of its own. */
  readonly url?: string;
  /**
   * Prefix of the driver's four tables (`<prefix>_indexes`, `_docs`, `_terms`, `_lengths`),
   * created on first use.
   * @default {"kit_search"}
   */
  readonly tablePrefix?: string;
}

type SearchItem = { op: "index"; doc: IndexedDoc } | { op: "delete"; id: string };

/** Search on PostgreSQL: an inverted index in tables, ranked with BM25 in SQL like the memory driver. */
class PostgresSearch implements SearchDriver {
  readonly name = "postgres";
  readonly #options: PostgresSearchOptions;
  #db: Db | undefined;
  #owned = false;
  #schema: Promise<void> | undefined;
  readonly #t: { indexes: Identifier; docs: Identifier; terms: Identifier; lengths: Identifier };

  constructor(options: PostgresSearchOptions) {
    checkConfig("postgresSearch", options, ["db", "url", "tablePrefix"], {
      argument: "options",
      noun: "option",
    });
    const prefix = options.tablePrefix ?? "kit_search";
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
      throw new TypeError(
        `Cannot create postgres search as 'tablePrefix' must be lowercase letters, digits and '_': current value is ${
          JSON.stringify(prefix)
        }`,
      );
    }
    if (!options.db && !options.url) {
      throw new TypeError("Cannot create postgres search as 'db' or 'url' is needed");
    }
    this.#options = options;
    this.#t = {
      indexes: identifier(`${prefix}_indexes`),
      docs: identifier(`${prefix}_docs`),
      terms: identifier(`${prefix}_terms`),
      lengths: identifier(`${prefix}_lengths`),
    };
  }

  /** The provider, connected on first use; the tables, created once per driver. */
  async #ready(): Promise<Db> {
    if (!this.#db) {
      if (this.#options.db) this.#db = this.#options.db;
      else {
        this.#db = await createDb({ ...defaultDbConfig("production"), url: this.#options.url }, {
          driver: postgresDb(),
        });
        this.#owned = true;
      }
    }
    const database = this.#db;
    const t = this.#t;
    this.#schema ??= database.transaction(async (tx) => {
      // Concurrent `create table if not exists` can collide in the catalog: one at a time.
      await tx.sql`select pg_advisory_xact_lock(hashtext(${t.docs.quoted}))`;
      await tx.sql`create table if not exists ${t.indexes} (
        name text primary key, mappings jsonb not null)`;
      await tx.sql`create table if not exists ${t.docs} (
        index text not null, id text not null, doc jsonb not null, keys jsonb not null,
        primary key (index, id))`;
      await tx.sql`create table if not exists ${t.terms} (
        index text not null, field text not null, term text not null, id text not null,
        tf int not null, primary key (index, field, term, id))`;
      await tx.sql`create table if not exists ${t.lengths} (
        index text not null, field text not null, id text not null, len int not null,
        primary key (index, field, id))`;
    }).catch((error) => {
      this.#schema = undefined;
      throw error;
    });
    await this.#schema;
    return database;
  }

  /** Runs `fn`, with failures as a DriverError naming the operation. */
  async #run<T>(operation: string, fn: (database: Db) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#ready());
    } catch (error) {
      if (error instanceof DriverError && error.driver === this.name) throw error;
      if (error instanceof MappingConflictError) throw error; // the caller's, not the backend's
      throw new DriverError(this.name, operation, error);
    }
  }

  async #requireIndex(queryable: Queryable, index: string, operation: string): Promise<void> {
    const found = await queryable.sql`select 1 from ${this.#t.indexes} where name = ${index}`;
    if (found.length === 0) {
      throw new DriverError(this.name, operation, new Error(`index '${index}' does not exist`));
    }
  }

  ensureIndex(index: string, mappings: Readonly<Record<string, FieldType>>): Promise<void> {
    return this.#run("ensureIndex", (database) =>
      database.transaction(async (tx) => {
        // One opener at a time: `for update` locks nothing while the row does not exist yet.
        await tx
          .sql`select pg_advisory_xact_lock(hashtext(${`${this.#t.indexes.quoted}:${index}`}))`;
        const [row] = await tx.sql<{ mappings: Record<string, FieldType> }>`
          select mappings from ${this.#t.indexes} where name = ${index}`;
        const merged = row ? mergeMappings(index, row.mappings, mappings) : mappings;
        await tx.sql`insert into ${this.#t.indexes} (name, mappings)
          values (${index}, ${JSON.stringify(merged)}::text::jsonb)
          on conflict (name) do update set mappings = excluded.mappings`;
      }));
  }

  bulk(index: string, items: readonly SearchItem[]): Promise<BulkResult> {
    return this.#run("bulk", (database) =>
      database.transaction(async (tx) => {
        await this.#requireIndex(tx, index, "bulk");
        const t = this.#t;
        const touched = [
          ...new Set(items.map((item) => item.op === "index" ? item.doc.id : item.id)),
        ];
        // Bulks touching the same ids run one after another: without the locks two inserts of a
        // new id collide on the key. Taken in sorted order, so two bulks cannot deadlock.
        // Ordered by the lock keys themselves (two ids can share a hash), so no two bulks wait on
        // each other in opposite orders.
        await tx.sql`select pg_advisory_xact_lock(k) from (
          select distinct hashtext(${index} || ':' || id) as k from unnest(${touched}::text[]) as id
          order by k) ordered`;
        const existing = new Set(
          (await tx.sql<{ id: string }>`select id from ${t.docs}
            where index = ${index} and id = any(${touched}::text[])`).map((row) => row.id),
        );
        // Apply the operations in order to what exists, then write only the final state.
        const final = new Map<string, IndexedDoc | null>();
        let indexed = 0;
        let deleted = 0;
        for (const item of items) {
          if (item.op === "index") {
            indexed++;
            existing.add(item.doc.id);
            final.set(item.doc.id, item.doc);
          } else {
            if (existing.delete(item.id)) deleted++;
            final.set(item.id, null);
          }
        }
        for (const table of [t.terms, t.lengths, t.docs]) {
          await tx
            .sql`delete from ${table} where index = ${index} and id = any(${touched}::text[])`;
        }
        const docs = [...final.values()].filter((doc): doc is IndexedDoc => doc !== null);
        if (docs.length > 0) {
          await tx.sql`insert into ${t.docs} (index, id, doc, keys)
            select ${index}, i, d::jsonb, k::jsonb
            from unnest(${docs.map((doc) => doc.id)}::text[], ${
            docs.map((doc) => JSON.stringify(doc.doc))
          }::text[], ${docs.map((doc) => JSON.stringify(doc.keys))}::text[]) as u(i, d, k)`;
          const terms = {
            field: [] as string[],
            term: [] as string[],
            id: [] as string[],
            tf: [] as string[],
          };
          const lengths = { field: [] as string[], id: [] as string[], len: [] as string[] };
          for (const doc of docs) {
            for (const [field, list] of Object.entries(doc.terms)) {
              if (list.length === 0) continue;
              lengths.field.push(field);
              lengths.id.push(doc.id);
              lengths.len.push(String(list.length));
              const counts = new Map<string, number>();
              for (const term of list) counts.set(term, (counts.get(term) ?? 0) + 1);
              for (const [term, tf] of counts) {
                terms.field.push(field);
                terms.term.push(term);
                terms.id.push(doc.id);
                terms.tf.push(String(tf));
              }
            }
          }
          if (lengths.id.length > 0) {
            await tx.sql`insert into ${t.lengths} (index, field, id, len)
              select ${index}, f, i, l::int
              from unnest(${lengths.field}::text[], ${lengths.id}::text[], ${lengths.len}::text[])
                as u(f, i, l)`;
            await tx.sql`insert into ${t.terms} (index, field, term, id, tf)
              select ${index}, f, w, i, c::int
              from unnest(${terms.field}::text[], ${terms.term}::text[], ${terms.id}::text[], ${terms.tf}::text[])
                as u(f, w, i, c)`;
          }
        }
        return { indexed, deleted };
      }));
  }

  get(index: string, id: string): Promise<Doc | undefined> {
    return this.#run("get", async (database) => {
      const reader = database.reader();
      await this.#requireIndex(reader, index, "get");
      const [row] = await reader.sql<{ doc: Doc }>`select doc from ${this.#t.docs}
        where index = ${index} and id = ${id}`;
      return row?.doc;
    });
  }

  search(
    index: string,
    mappings: Readonly<Record<string, FieldType>>,
    query: DriverQuery,
  ): Promise<SearchResult<Doc>> {
    return this.#run("search", async (database) => {
      const reader = database.reader();
      await this.#requireIndex(reader, index, "search");
      const t = this.#t;
      const conditions: SqlFragment[] = [fragment`d.index = ${index}`];
      const typed = (field: string) =>
        mappings[field] === "keyword"
          ? fragment`(d.keys ->> ${field})`
          : mappings[field] === "boolean"
          ? fragment`(d.keys ->> ${field})::boolean`
          : fragment`(d.keys ->> ${field})::float8`;
      for (const { field, values } of query.filters) {
        // Sent as text[] and cast on the server: a typed array parameter is serialized by the
        // client library's own rules (postgres.js turned the text 'true' into false).
        const cast = mappings[field] === "keyword"
          ? fragment`::text[]`
          : mappings[field] === "boolean"
          ? fragment`::text[]::boolean[]`
          : fragment`::text[]::float8[]`;
        conditions.push(fragment`${typed(field)} = any(${values.map(String)}${cast})`);
      }
      for (const { field, gte, gt, lte, lt } of query.ranges) {
        const value = typed(field);
        if (gte !== undefined) conditions.push(fragment`${value} >= ${gte}::float8`);
        if (gt !== undefined) conditions.push(fragment`${value} > ${gt}::float8`);
        if (lte !== undefined) conditions.push(fragment`${value} <= ${lte}::float8`);
        if (lt !== undefined) conditions.push(fragment`${value} < ${lt}::float8`);
      }
      const where = conditions.reduce((all, one) => fragment`${all} and ${one}`);
      const matches = query.terms.length === 0
        ? fragment`select d.id, 0::float8 as score, d.doc, d.keys from ${t.docs} d where ${where}`
        : fragment`with q as (select unnest(${query.terms}::text[]) as term),
            f as (select unnest(${query.fields}::text[]) as field),
            stats as (select l.field, count(*)::float8 as n, avg(l.len)::float8 as avgdl
              from ${t.lengths} l where l.index = ${index} and l.field in (select field from f)
              group by l.field),
            df as (select w.field, w.term, count(*)::float8 as n from ${t.terms} w
              where w.index = ${index} and w.field in (select field from f)
                and w.term in (select term from q)
              group by w.field, w.term),
            per_field as (
              select w.id, w.field, count(*) as matched,
                sum(ln(1 + (s.n - df.n + 0.5) / (df.n + 0.5)) * w.tf
                  / (w.tf + ${BM25_K1}::float8 * (1 - ${BM25_B}::float8
                    + ${BM25_B}::float8 * l.len / s.avgdl))) as score
              from ${t.terms} w
              join df on df.field = w.field and df.term = w.term
              join stats s on s.field = w.field
              join ${t.lengths} l on l.index = w.index and l.field = w.field and l.id = w.id
              where w.index = ${index}
              group by w.id, w.field),
            best as (select id, max(score) as score from per_field
              where ${query.operator === "or"} or matched = ${query.terms.length}
              group by id)
            select d.id, b.score, d.doc, d.keys from best b
            join ${t.docs} d on d.index = ${index} and d.id = b.id
            where ${where}`;
      const orderBy = query.sort.length === 0
        ? fragment`m.score desc, m.id collate "C"`
        : query.sort.map(({ field, order }) => {
          const value = mappings[field] === "keyword"
            ? fragment`(m.keys ->> ${field}) collate "C"`
            : mappings[field] === "boolean"
            ? fragment`(m.keys ->> ${field})::boolean`
            : fragment`(m.keys ->> ${field})::float8`;
          return order === "desc"
            ? fragment`${value} desc nulls last`
            : fragment`${value} asc nulls last`;
        }).reduce((all, one) => fragment`${all}, ${one}`);
      const rows = await reader.sql<
        { id: string; score: number; doc: Doc; total: number | bigint }
      >`
        select m.id, m.score, m.doc, count(*) over () as total from (${matches}) m
        order by ${orderBy}${query.sort.length === 0 ? fragment`` : fragment`, m.id collate "C"`}
        offset ${query.from} limit ${query.size}`;
      let total = rows.length > 0 ? Number(rows[0].total) : 0;
      if (rows.length === 0 && (query.from > 0 || query.size === 0)) {
        const [count] = await reader.sql<{ total: number | bigint }>`
          select count(*) as total from (${matches}) m`;
        total = Number(count.total);
      }
      return { total, hits: rows.map(({ id, score, doc }) => ({ id, score: Number(score), doc })) };
    });
  }

  dropIndex(index: string): Promise<void> {
    return this.#run("dropIndex", (database) =>
      database.transaction(async (tx) => {
        const t = this.#t;
        for (const table of [t.terms, t.lengths, t.docs]) {
          await tx.sql`delete from ${table} where index = ${index}`;
        }
        await tx.sql`delete from ${t.indexes} where name = ${index}`;
      }));
  }

  ping(): Promise<void> {
    return this.#run("ping", (database) => database.ping());
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#db?.close();
    this.#db = undefined;
  }
}

/**
 * Creates the PostgreSQL search driver: full-text search with the kit's analyzer (CJK
 * bigrams included) and BM25 ranking in SQL, the same scores as the memory driver. It works on
 * PostgreSQL and on PGlite through a kit db provider.
 *
 * @param options A db provider, or a URL; the tables' prefix.
 * @returns The driver.
 * @throws {TypeError} When neither `db` nor `url` is given, or on a bad table prefix.
 */
export function postgresSearch(options: PostgresSearchOptions): SearchDriver {
  return new PostgresSearch(options);
}
