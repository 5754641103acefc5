/**
 * Migrations: each applied once, in order, in one transaction under an advisory lock, so
 * instances starting together never apply one twice.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { RunTransaction, Transaction } from "./transaction.ts";

/** One migration: an id recorded once applied, and SQL or a function to run. */
export interface Migration {
  /** Unique, stable id, such as `001_create_users`. */
  readonly id: string;
  /** A script of one or more statements. */
  readonly sql?: string;
  /** Or a function run inside the migration's transaction. */
  readonly up?: (tx: Transaction) => Promise<void>;
}

// pg_advisory_xact_lock key of the migration lock: "kitmigr" as a number.
const MIGRATION_LOCK = 0x6b69746d696772n;

function checkMigrations(migrations: readonly Migration[]): void {
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
}

/** The `migrate` method of a provider whose transactions `transaction` runs. */
export function migrator(
  transaction: RunTransaction,
  logger: Logger,
): (migrations: readonly Migration[]) => Promise<string[]> {
  return async (migrations) => {
    checkMigrations(migrations);
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
}
