/**
 * Coord conformance: leased instance ids.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the instance id case: ids are distinct per owner, exhaustion is an
 * error, and a severed owner's id is freed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function instanceIdCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, pair } = context;

  test("instance ids: distinct per owner, exhausted is an error, a severed owner's id is freed after its TTL", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("ids").replaceAll("/", "-");
    const first = await a.provider.instanceIds.allocate(service, 2);
    const second = await b.provider.instanceIds.allocate(service, 2);
    assert.notEqual(first.id, second.id);
    await assert.rejects(b.provider.instanceIds.allocate(service, 2), /all 2 ids are taken/);
    await options.sever(a.driver);
    await eventually(() => assert.ok(first.lost.aborted), { timeoutMs: ttlMs * 3 + 2000 });
    assert.ok(first.lost.reason instanceof coord.InstanceIdLostError);
    const reused = await eventually(() => b.provider.instanceIds.allocate(service, 2), {
      timeoutMs: ttlMs * 3 + 3000,
    });
    assert.equal(reused.id, first.id);
    await first.release(); // releasing a lost id must not delete the new owner's key
    const third = await b.provider.instanceIds.allocate(service, 3);
    assert.equal(third.id, 2, "ids 0 and 1 are both still held");
  });
}
