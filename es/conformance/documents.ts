/**
 * Search conformance: document round-trips between two providers.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Message, SearchSuiteContext } from "./_context.ts";

/**
 * Registers the document case: put, get, delete and bulk round-trip between two
 * providers.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function documentCases(context: SearchSuiteContext): void {
  const { test, pair } = context;

  test("put, get, delete and bulk round-trip documents between two providers", async () => {
    await using env = await pair("crud");
    const doc: Message = { content: "hello", room: "r1", extra: { nested: [1, 2] } };
    await env.a.put("m1", doc, { refresh: true });
    assert.deepEqual(await env.b.get("m1"), doc, "unmapped fields are kept");
    assert.equal(await env.b.get("missing"), undefined);
    const result = await env.b.bulk([
      { op: "index", id: "m2", doc: { content: "second" } },
      { op: "index", id: "m3", doc: { content: "third" } },
      { op: "delete", id: "m2" },
      { op: "delete", id: "never-there" },
    ], { refresh: true });
    assert.deepEqual(result, { indexed: 2, deleted: 1 });
    assert.equal(await env.a.get("m2"), undefined, "deleted after it was indexed, in order");
    assert.deepEqual(await env.a.get("m3"), { content: "third" });
    assert.equal(await env.a.delete("m3", { refresh: true }), true);
    assert.equal(await env.a.delete("m3", { refresh: true }), false);
    assert.deepEqual(await env.a.bulk([]), { indexed: 0, deleted: 0 });
  });
}
