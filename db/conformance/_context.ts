/**
 * What every db behaviour file shares: the `test` helper that names and registers a case, and
 * `setup`, two providers on one database working in a schema of their own.
 *
 * @module
 */
import type * as clog from "../../clog/mod.ts";
import { RUN_ID } from "../../testing/keyspace.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as db from "../mod.ts";
import type { DbSuiteOptions } from "../conformance.ts";

/** Two providers on one database and a schema of their own, dropped on dispose. */
export interface DbSetup extends AsyncDisposable {
  /** The first provider; it creates and drops the schema. */
  readonly a: db.Db;
  /** The second provider, as another service instance. */
  readonly b: db.Db;
  /** What both providers logged. */
  readonly logs: clog.MemorySink;
  /** The schema of this case. */
  readonly schema: string;
  /** The identifier of a table inside the schema. */
  table(tableName: string): db.Identifier;
}

/** What each behaviour file of the db suite is given. */
export interface DbSuiteContext {
  /** The driver under test. */
  readonly options: DbSuiteOptions;
  /** Registers one case as `[name] db: title`, ignored when the database is not available. */
  test(title: string, fn: () => Promise<void>): void;
  /** Two providers and a new schema named after `label`. */
  setup(label: string): Promise<DbSetup>;
}

// Counts schemas across every suite run in this process, so each case gets a fresh one.
let schemas = 0;

/**
 * Builds the shared context of the db suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and `setup`.
 */
export function dbSuiteContext(options: DbSuiteOptions): DbSuiteContext {
  const { name } = options;

  async function setup(label: string): Promise<DbSetup> {
    const schema = `kit_${RUN_ID}_${++schemas}_${label.replace(/\W+/g, "_")}`.toLowerCase().slice(
      0,
      60,
    );
    const { logger, logs } = capturingLogger();
    const config = { ...db.defaultConfig("development"), ...options.config };
    const a = await db.create(config, { driver: options.makeDriver(), logger });
    const b = await db.create(config, { driver: options.makeDriver(), logger });
    await a.sql`create schema ${db.identifier(schema)}`;
    const table = (tableName: string) => db.identifier(`${schema}.${tableName}`);
    return {
      a,
      b,
      logs,
      schema,
      table,
      async [Symbol.asyncDispose]() {
        await a.sql`drop schema ${db.identifier(schema)} cascade`;
        await a.close();
        await b.close();
      },
    };
  }

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] db: ${title}`, ignore: options.ignore, fn });

  return { options, test, setup };
}
