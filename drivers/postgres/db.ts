/**
 * The PostgreSQL driver of db, over npm:postgres (postgres.js): a pool for the primary and
 * one per read replica, results shaped like the PGlite driver's.
 *
 * @module
 */
import postgres from "postgres";
import type { DbConfig } from "../../db/mod.ts";
import type { DbDriver, DbExecutor, DbPool } from "../../db/driver.ts";
import { checkConfig } from "../../internal/config.ts";
import { redactUrl } from "../../internal/redact.ts";
import {
  addressOf,
  connectFailure,
  DEFAULT_HOST,
  DEFAULT_PORT,
  hostsOf,
  passwordOf,
  pgEnv,
} from "./address.ts";
import { executor, type Sql } from "./executor.ts";
import { checkTls, type PostgresTlsOptions, sslSettings } from "./tls.ts";
import { PoolCloses, runTransaction } from "./transaction.ts";

export type { PostgresTlsOptions } from "./tls.ts";

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

/** Seconds before reconnect attempt `retries`: 50 ms doubling to 2 s, with jitter. */
function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.05 * 2 ** retries, 2);
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
