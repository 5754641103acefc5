/**
 * The standalone db driver: PGlite, a real PostgreSQL compiled to WebAssembly,
 * in process, in memory or on a data directory. It has one connection, so
 * statements and transactions are queued, never interleaved.
 *
 * `db.create` loads this driver on first use when no driver is given; import
 * it yourself to choose a data directory or to share one instance between providers.
 *
 * @example Two providers on one in-process database
 * ```ts ignore
 * import { db } from "@gochat/kit";
 * import { pgliteDb } from "@gochat/kit/drivers/pglite";
 *
 * const driver = pgliteDb({ dataDir: "./data" });
 * await using a = await db.create(db.defaultConfig("development"), { driver });
 * await using b = await db.create(db.defaultConfig("development"), { driver });
 * ```
 *
 * @module
 */
import { PGlite, types } from "@electric-sql/pglite";
import { checkConfig } from "../internal/config.ts";
import { type DbConfig, DriverError } from "../db/mod.ts";
import { databaseError, normalizeParams } from "../db/driver.ts";
import type { DbDriver, DbExecutor, DbPool, QueryResult } from "../db/driver.ts";

/** Options of {@linkcode pgliteDb}. */
export interface PgliteDbOptions {
  /** Directory for the data files; overrides the config's `dataDir`. In memory when neither is set. */
  readonly dataDir?: string;
}

/** A FIFO lock: one holder at a time, in arrival order. */
class Queue {
  #tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

class PgliteDriver implements DbDriver {
  readonly name = "pglite";
  readonly #options: PgliteDbOptions;
  #instance: Promise<PGlite> | undefined;
  #users = 0;
  readonly #queue = new Queue();

  constructor(options: PgliteDbOptions) {
    this.#options = options;
  }

  async #open(config: DbConfig): Promise<PGlite> {
    const dataDir = this.#options.dataDir ?? config.dataDir;
    const instance = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      // The same shapes as the postgres driver: int8 exact as bigint, date as text.
      parsers: {
        [types.INT8]: (text: string) => BigInt(text),
        [types.DATE]: (text: string) => text,
      },
    });
    if (config.statementTimeoutMs > 0) {
      await instance.exec(`set statement_timeout = ${config.statementTimeoutMs}`);
    }
    return instance;
  }

  async connect(config: DbConfig): Promise<{ writer: DbPool; readers: DbPool[] }> {
    this.#instance ??= this.#open(config).catch((error) => {
      this.#instance = undefined;
      throw new DriverError(this.name, "connect", error);
    });
    const instance = await this.#instance;
    this.#users++;
    let closed = false;

    const run = async (text: string, params: readonly unknown[]): Promise<QueryResult> => {
      try {
        const result = await instance.query<Record<string, unknown>>(text, normalizeParams(params));
        return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      } catch (error) {
        throw databaseError("pglite", "query", error, text);
      }
    };
    const exec = async (script: string): Promise<void> => {
      try {
        await instance.exec(script);
      } catch (error) {
        throw databaseError("pglite", "exec", error, script);
      }
    };
    const queued = async <T>(fn: () => Promise<T>): Promise<T> => {
      const release = await this.#queue.acquire();
      try {
        return await fn();
      } finally {
        release();
      }
    };

    const pool: DbPool = {
      query: (text, params) => queued(() => run(text, params)),
      exec: (script) => queued(() => exec(script)),
      transaction: async <R>(
        isolation: string,
        fn: (connection: DbExecutor) => Promise<R>,
      ): Promise<R> => {
        // The one connection is this transaction's until it ends: everything else waits.
        const release = await this.#queue.acquire();
        try {
          await run(`begin isolation level ${isolation}`, []);
          try {
            const result = await fn({ query: run, exec });
            await run("commit", []);
            return result;
          } catch (error) {
            await run("rollback", []).catch(() => {});
            throw error;
          }
        } finally {
          release();
        }
      },
      close: async () => {
        if (closed) return;
        closed = true;
        if (--this.#users > 0) return;
        const current = this.#instance;
        this.#instance = undefined;
        await (await current)?.close();
      },
    };
    return { writer: pool, readers: [] };
  }
}

/**
 * Creates the PGlite driver. Providers created with the same driver share one database.
 *
 * @param options Data directory (in memory by default).
 * @returns The driver.
 * @throws {TypeError} On an unknown option.
 */
export function pgliteDb(options: PgliteDbOptions = {}): DbDriver {
  checkConfig("pgliteDb", options, ["dataDir"], { argument: "options", noun: "option" });
  return new PgliteDriver(options);
}
