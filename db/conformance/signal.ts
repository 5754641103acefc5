/**
 * Db conformance: signals on reader and writer calls.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DbSuiteContext } from "./_context.ts";

/**
 * Registers the signal case: an aborted reader or writer call sends nothing and
 * rejects with the reason.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: DbSuiteContext): void {
  const { test, setup } = context;

  test("reader and writer take a signal: an aborted one sends nothing and rejects with the reason", async () => {
    await using env = await setup("query signal");
    const log = env.table("log");
    await env.a.sql`create table ${log} (entry text)`;
    const controller = new AbortController();
    const live = env.a.writer({ signal: controller.signal });
    await live.sql`insert into ${log} values ('sent')`;
    assert.deepEqual(
      await env.a.reader({ signal: controller.signal }).sql`select entry from ${log}`,
      [
        { entry: "sent" },
      ],
    );
    controller.abort(new Error("caller left"));
    await assert.rejects(live.sql`insert into ${log} values ('not sent')`, /caller left/);
    assert.deepEqual(await env.b.sql`select entry from ${log}`, [{ entry: "sent" }]);
    assert.throws(
      () => env.a.writer({ signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });
}
