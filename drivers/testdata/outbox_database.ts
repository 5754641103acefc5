/**
 * The database of the mq suite's transactional-outbox case for the driver tests: the real
 * PostgreSQL when CI names one (`KIT_POSTGRES_URL`), else PGlite in process.
 */
import * as db from "../../db/mod.ts";
import { pgliteDb } from "../pglite.ts";
import { postgresDb } from "../postgres/mod.ts";
import { serviceUrl } from "../../testing/services.ts";

/** A db provider for the outbox case. */
export function outboxDatabase(): Promise<db.Db> {
  const postgresUrl = serviceUrl("postgres");
  return postgresUrl
    ? db.create({ ...db.defaultConfig("development"), url: postgresUrl }, {
      driver: postgresDb(),
    })
    : db.create(db.defaultConfig("development"), { driver: pgliteDb() });
}
