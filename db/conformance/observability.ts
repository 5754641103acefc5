/**
 * Db conformance: slow-statement logs and query metrics.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as metrics from "../../metrics/mod.ts";
import * as db from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the observability cases: slow statements are logged without their
 * parameters, and query durations and failures are measured.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function observabilityCases(context: DbSuiteContext): void {
  const { options, test, setup } = context;

  test("slow statements are logged with their duration and without parameter values", async () => {
    await using _env = await setup("slow"); // keeps the shared database open, as every case does
    const { logger, logs } = capturingLogger();
    await using slow = await db.create({
      ...db.defaultConfig("development"),
      ...options.config,
      slowQueryMs: 5,
    }, {
      driver: options.makeDriver(),
      logger,
    });
    await slow.sql`select pg_sleep(0.02), ${"secret-value"}::text as p`;
    const line = logs.records.find((record) => record.msg === "slow query");
    assert.ok(line, "logged");
    assert.ok(Number(line.fields.ms) >= 5);
    assert.match(String(line.fields.statement), /pg_sleep\(0\.02\), \$1::text/);
    assert.ok(!JSON.stringify(line.fields).includes("secret-value"));
  });

  test("with metrics, query durations and failures are recorded; slow queries are still logged", async () => {
    await using _env = await setup("metrics"); // keeps the shared database open, as every case does
    const { logger, logs } = capturingLogger();
    await using registry = await metrics.create(metrics.defaultConfig("development"));
    await using measured = await db.create({
      ...db.defaultConfig("development"),
      ...options.config,
      slowQueryMs: 5,
    }, { driver: options.makeDriver(), logger, metrics: registry });
    await measured.sql`select 1`;
    await measured.writer().sql`select pg_sleep(0.02)`;
    await assert.rejects(measured.sql`select * from kit_no_such_table`, db.SqlError);
    const text = registry.render() ?? "";
    const count = Number(
      text.match(/^db_query_duration_seconds_count\{role="primary"\} (\d+)$/m)?.[1],
    );
    const sum = Number(text.match(/^db_query_duration_seconds_sum\{role="primary"\} (\S+)$/m)?.[1]);
    assert.equal(count, 2);
    assert.ok(sum >= 0.02 && sum < 10, `sum ${sum}`);
    assert.match(text, /^db_query_errors_total\{role="primary"\} 1$/m);
    const slow = logs.records.filter((record) => record.msg === "slow query");
    assert.equal(slow.length, 1, "only the pg_sleep");
    assert.ok(Number.isInteger(slow[0].fields.ms) && Number(slow[0].fields.ms) >= 20);
  });
}
