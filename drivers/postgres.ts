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

/** Options of {@linkcode postgresDb}. */
export interface PostgresDbOptions {
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

type TaggedClient = (
  strings: TemplateStringsArray,
  ...values: unknown[]
) => Promise<unknown[] & { count?: number }>;

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
    ): Promise<QueryResult> {
      // Plain .then chaining: this is the hot path.
      const pending = parts
        ? (client as unknown as TaggedClient)(templateFor(text, parts), ...normalizeParams(params))
        : client.unsafe(text, normalizeParams(params) as never[], { prepare: true });
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
    this.#options = options;
  }

  #pool(config: DbConfig, url: string | undefined): DbPool {
    const settings = {
      max: config.poolSize,
      idle_timeout: config.idleTimeoutMs > 0 ? config.idleTimeoutMs / 1000 : undefined,
      connect_timeout: (this.#options.connectTimeoutMs ?? 10_000) / 1000,
      onnotice: () => {},
      // The same shapes as the PGlite driver: int8 exact as bigint, date as text.
      types: {
        bigint: postgres.BigInt,
        date: {
          to: 1082,
          from: [1082],
          serialize: (value: unknown) => value,
          parse: (value: string) => value,
        },
      },
      connection: {
        application_name: this.#options.applicationName ?? "gochat-kit",
        ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
      },
    };
    const sql = url ? postgres(url, settings) : postgres({
      ...settings,
      host: config.host ?? "127.0.0.1",
      port: config.port ?? 5432,
      database: config.database,
      username: config.user,
      password: config.password,
    });
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
      close: () => sql.end({ timeout: 5 }),
    };
  }

  async connect(config: DbConfig): Promise<{ writer: DbPool; readers: DbPool[] }> {
    const writer = this.#pool(config, config.url);
    const readers = (config.replicas ?? []).map((url) => this.#pool(config, url));
    const pools = [writer, ...readers];
    try {
      await Promise.all(pools.map((pool) => pool.query("select 1", [])));
    } catch (error) {
      await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
      throw error instanceof DriverError
        ? new DriverError(this.name, "connect", error.cause)
        : error;
    }
    return { writer, readers };
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
