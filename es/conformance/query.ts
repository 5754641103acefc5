/**
 * Search conformance: filters, ranges, sorting and paging.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SearchSuiteContext } from "./_context.ts";

/**
 * Registers the query case: filters, ranges, sorting and paging, alone and
 * with text.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function queryCases(context: SearchSuiteContext): void {
  const { test, pair, ids } = context;

  test("filters, ranges, sorting and paging, alone and with text", async () => {
    await using env = await pair("filter");
    const day = (n: number) => `2026-11-${String(n).padStart(2, "0")}T08:00:00.000Z`;
    await env.a.bulk(
      Array.from({ length: 6 }, (_, i) => ({
        op: "index" as const,
        id: `m${i}`,
        doc: {
          content: i % 2 === 0 ? "release notes" : "chat message",
          room: i < 3 ? "r1" : "r2",
          likes: i * 10,
          pinned: i === 4,
          sentAt: i === 5 ? Date.parse(day(6)) : day(i + 1),
        },
      })),
      { refresh: true },
    );
    assert.deepEqual(
      ids(await env.b.search({ filter: { room: "r1" }, sort: [{ field: "likes" }] })),
      [
        "m0",
        "m1",
        "m2",
      ],
    );
    assert.deepEqual(
      ids(await env.b.search({ filter: { room: ["r1", "r2"], pinned: true } })),
      ["m4"],
    );
    assert.deepEqual(
      ids(
        await env.b.search({ range: { likes: { gt: 10, lte: 30 } }, sort: [{ field: "likes" }] }),
      ),
      ["m2", "m3"],
    );
    assert.deepEqual(
      ids(
        await env.b.search({
          range: { sentAt: { gte: day(5) } },
          sort: [{ field: "sentAt", order: "desc" }],
        }),
      ),
      ["m5", "m4"],
      "dates as ISO text and as epoch ms compare as times",
    );
    assert.deepEqual(
      ids(await env.b.search({ text: "release", filter: { room: "r2" } })),
      ["m4"],
    );
    assert.deepEqual(ids(await env.b.search({ filter: { sentAt: day(2) } })), ["m1"]);
    assert.deepEqual(
      ids(await env.b.search({ filter: { sentAt: day(2).replace(".000Z", "") } })),
      ["m1"],
      "a time without an offset is UTC, whatever the process's time zone",
    );
    const page = await env.b.search({
      sort: [{ field: "likes", order: "desc" }],
      from: 2,
      size: 2,
    });
    assert.equal(page.total, 6);
    assert.deepEqual(ids(page), ["m3", "m2"]);
    assert.equal((await env.b.search({ size: 0 })).total, 6);
    assert.ok(page.hits.every((hit) => hit.score === 0), "no text, no score");
  });
}

/**
 * Registers the sort and replace case: a missing sort value sorts last,
 * keywords sort by code point, and replacing a document replaces its terms.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function sortAndReplaceCases(context: SearchSuiteContext): void {
  const { test, pair, ids } = context;

  test("a missing sort value sorts last; replacing a document replaces its terms", async () => {
    await using env = await pair("replace");
    await env.a.bulk([
      { op: "index", id: "a", doc: { content: "alpha", likes: 5 } },
      { op: "index", id: "b", doc: { content: "beta" } },
      { op: "index", id: "c", doc: { content: "gamma", likes: 1 } },
    ], { refresh: true });
    assert.deepEqual(ids(await env.b.search({ sort: [{ field: "likes" }] })), ["c", "a", "b"]);
    assert.deepEqual(ids(await env.b.search({ sort: [{ field: "likes", order: "desc" }] })), [
      "a",
      "c",
      "b",
    ]);
    await env.b.put("a", { content: "delta" }, { refresh: true });
    assert.deepEqual(ids(await env.a.search({ text: "alpha" })), []);
    assert.deepEqual(ids(await env.a.search({ text: "delta" })), ["a"]);
    assert.deepEqual(await env.a.get("a"), { content: "delta" });
    await env.a.bulk([
      { op: "index", id: "k1", doc: { content: "x", room: "\u{1F600}" } },
      { op: "index", id: "k2", doc: { content: "x", room: "\uFF5E" } },
      { op: "index", id: "k3", doc: { content: "x", room: "z" } },
    ], { refresh: true });
    assert.deepEqual(
      ids(
        await env.b.search({
          filter: { room: ["\u{1F600}", "\uFF5E", "z"] },
          sort: [{ field: "room" }],
        }),
      ),
      ["k3", "k2", "k1"],
      "keywords sort by code point: z, U+FF5E, U+1F600",
    );
  });
}
