/**
 * Search conformance: full-text search, BM25 order and CJK text.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { SearchSuiteContext } from "./_context.ts";

/**
 * Registers the full-text cases: any or every term, BM25 order, and CJK text
 * searched by bigrams.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function textCases(context: SearchSuiteContext): void {
  const { test, pair, ids } = context;

  test("full text: any term by default, every term in one field with `and`, BM25 order", async () => {
    await using env = await pair("text");
    await env.a.bulk([
      { op: "index", id: "fox", doc: { content: "the quick brown fox jumps over the lazy dog" } },
      { op: "index", id: "dog", doc: { content: "a lazy dog sleeps all day long in the sun" } },
      { op: "index", id: "fox2", doc: { content: "fox fox fox" } },
      { op: "index", id: "cat", doc: { content: "a cat", title: "brown" } },
    ], { refresh: true });
    assert.deepEqual(ids(await env.b.search({ text: "fox" })), ["fox2", "fox"]);
    assert.deepEqual(
      new Set(ids(await env.b.search({ text: "fox lazy" }))),
      new Set(["fox", "fox2", "dog"]),
    );
    assert.deepEqual(ids(await env.b.search({ text: "fox lazy", operator: "and" })), ["fox"]);
    assert.deepEqual(
      ids(await env.b.search({ text: "brown cat", operator: "and" })),
      [],
      "`and` needs every term in one field: brown is in the title, cat in the content",
    );
    assert.deepEqual(ids(await env.b.search({ text: "brown", fields: ["title"] })), ["cat"]);
    const scored = await env.b.search({ text: "fox" });
    assert.ok(scored.hits[0].score > scored.hits[1].score && scored.hits[1].score > 0);
    assert.deepEqual(ids(await env.b.search({ text: "zebra" })), []);
  });

  test("CJK text is searched by bigrams; case and full-width letters fold", async () => {
    await using env = await pair("cjk");
    await env.a.bulk([
      { op: "index", id: "weather", doc: { content: "今天天气很好，我们去公园吧" } },
      { op: "index", id: "rain", doc: { content: "明天会下雨，记得带伞" } },
      { op: "index", id: "mixed", doc: { content: "Deno 版本 2.9 发布了" } },
      { op: "index", id: "jp", doc: { content: "東京タワーに行きました" } },
    ], { refresh: true });
    assert.deepEqual(ids(await env.b.search({ text: "天气" })), ["weather"]);
    assert.deepEqual(ids(await env.b.search({ text: "下雨" })), ["rain"]);
    assert.deepEqual(ids(await env.b.search({ text: "DENO" })), ["mixed"]);
    assert.deepEqual(ids(await env.b.search({ text: "ｄｅｎｏ 发布", operator: "and" })), [
      "mixed",
    ]);
    assert.deepEqual(ids(await env.b.search({ text: "タワー" })), ["jp"]);
    assert.deepEqual(ids(await env.b.search({ text: "公园 带伞" })).sort(), ["rain", "weather"]);
  });
}
