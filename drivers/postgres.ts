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
  databaseError,
  type DbConfig,
  type DbDriver,
  type DbExecutor,
  type DbPool,
  DriverError,
  normalizeParams,
  type QueryResult,
  SqlError,
} from "../db/mod.ts";

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
  /** Runs a callback in a transaction. */
  begin(...args: never[]): Promise<unknown>;
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

function executor(client: Pick<Sql, "unsafe">) {
  return {
    query(
      text: string,
      params: readonly unknown[],
      parts?: readonly string[],
      signal?: AbortSignal,
    ): Promise<QueryResult> {
      // Plain .then chaining: this is the hot path.
      const pending = parts
        ? (client as unknown as TaggedClient)(templateFor(text, parts), ...normalizeParams(params))
        : client.unsafe(text, normalizeParams(params) as never[], { prepare: true });
      if (signal) cancelOnAbort(pending, signal);
      return pending.then(
        (result) => {
          // A plain array, like PGlite's, not postgres.js's Result subclass. An indexed copy:
          // Array.from takes the iterator path on the subclass, ~0.5 µs for a single row.
          const length = result.length;
          const rows = new Array<Record<string, unknown>>(length);
          for (let i = 0; i < length; i++) rows[i] = result[i] as Record<string, unknown>;
          return { rows, rowCount: result.count ?? length };
        },
        (error) => {
          throw databaseError("postgres", "query", error, text);
        },
      );
    },
    async exec(script: string): Promise<void> {
      try {
        // Without parameters postgres.js uses the simple protocol, which runs several statements.
        await client.unsafe(script);
      } catch (error) {
        throw databaseError("postgres", "exec", error, script);
      }
    },
  };
}

class PostgresDriver implements DbDriver {
  readonly name = "postgres";
  readonly #options: PostgresDbOptions;

  constructor(options: PostgresDbOptions) {
    const client: unknown = options?.client;
    const methods = client as { unsafe?: unknown; begin?: unknown };
    if (
      client !== undefined &&
      (typeof client !== "function" || typeof methods.unsafe !== "function" ||
        typeof methods.begin !== "function")
    ) {
      throw new TypeError(
        `Cannot create postgres driver as 'client' must be a postgres.js client: current value is ${client}`,
      );
    }
    this.#options = options;
  }

  #pool(config: DbConfig, url: string | undefined): DbPool {
    return this.#wrap(this.#open(config, url), true);
  }

  #open(config: DbConfig, url: string | undefined): Sql {
    const settings = {
      max: config.poolSize,
      idle_timeout: config.idleTimeoutMs > 0 ? config.idleTimeoutMs / 1000 : undefined,
      connect_timeout: (this.#options.connectTimeoutMs ?? 10_000) / 1000,
      onnotice: () => {},
      types: postgresResultTypes,
      connection: {
        application_name: this.#options.applicationName ?? "gochat-kit",
        ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
      },
    };
    return url ? postgres(url, settings) : postgres({
      ...settings,
      host: config.host ?? "127.0.0.1",
      port: config.port ?? 5432,
      database: config.database,
      username: config.user,
      password: config.password,
    });
  }

  /** The pool over a client; `owned` clients are closed with it. */
  #wrap(sql: Sql, owned: boolean): DbPool {
    return {
      ...executor(sql),
      async transaction<R>(
        isolation: string,
        fn: (connection: DbExecutor) => Promise<R>,
      ): Promise<R> {
        // sql.begin, not sql.reserve: begin survives a connection the server closed mid-transaction.
        try {
          return await sql.begin(`isolation level ${isolation}`, (tx) => fn(executor(tx))) as R;
        } catch (error) {
          if (error instanceof SqlError || error instanceof DriverError) throw error;
          const code = (error as { code?: string })?.code;
          // Errors of our own or the caller's pass through; the library's own get translated.
          if (typeof code === "string" || (error as Error)?.name === "PostgresError") {
            throw databaseError("postgres", "transaction", error, "begin");
          }
          throw error;
        }
      },
      close: () => owned ? sql.end({ timeout: 5 }) : Promise.resolve(),
    };
  }

  async connect(config: DbConfig): Promise<{ writer: DbPool; readers: DbPool[] }> {
    const client = this.#options.client;
    const writer = client
      ? this.#wrap(client as unknown as Sql, false)
      : this.#pool(config, config.url);
    const readers = (config.replicas ?? []).map((url) => this.#pool(config, url));
    const pools = [writer, ...readers];
    try {
      await Promise.all(pools.map((pool) => pool.query("select 1", [])));
      if (client) await checkShapes(writer);
    } catch (error) {
      await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
      throw error instanceof DriverError
        ? new DriverError(this.name, "connect", error.cause)
        : error;
    }
    return { writer, readers };
  }
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
 * @param options Application name and connect timeout.
 * @returns The driver.
 */
export function postgresDb(options: PostgresDbOptions = {}): DbDriver {
  return new PostgresDriver(options);
}
