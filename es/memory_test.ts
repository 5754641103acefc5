import assert from "node:assert/strict";
import { searchConformance } from "./conformance.ts";
import * as es from "./mod.ts";
import { bm25 } from "./driver.ts";

const store = new es.MemorySearchStore();
searchConformance({ name: "memory", makeDriver: () => es.memorySearch({ store }) });

Deno.test("the analyzer: words lowercased and width-folded, CJK runs as bigrams", () => {
  assert.deepEqual(es.analyze("Hello, WORLD! ｆｕｌｌ－width"), [
    "hello",
    "world",
    "full",
    "width",
  ]);
  assert.deepEqual(es.analyze("我爱北京天安门"), ["我爱", "爱北", "北京", "京天", "天安", "安门"]);
  assert.deepEqual(es.analyze("好 Deno 好吗"), ["好", "deno", "好吗"]);
  assert.deepEqual(es.analyze("한국어 텍스트"), ["한국", "국어", "텍스", "스트"]);
  assert.deepEqual(es.analyze("café naïve 2.9"), ["café", "naïve", "2.9"]);
  assert.deepEqual(es.analyze("iPhone手机 手机iPhone"), ["iphone", "手机", "手机", "iphone"]);
  assert.deepEqual(
    es.analyze("don't foo_bar e-mail u.s.a end."),
    ["don't", "foo_bar", "e", "mail", "u.s.a", "end"],
    "joined across ' . _ as Unicode word boundaries keep them; split at - and at a final .",
  );
  assert.deepEqual(es.analyze("タワー"), ["タワ", "ワー"], "the prolonged sound mark is kana");
  assert.deepEqual(es.analyze("❤️ love ☀️"), ["love"], "a lone variation selector is no term");
  assert.deepEqual(es.analyze("𠀋𠀌"), ["𠀋𠀌"], "characters beyond the BMP stay whole");
  assert.deepEqual(es.analyze("  ,.!  "), []);
});

Deno.test("dates: years before 100 are not read as 19xx; offsets convert to UTC", async () => {
  await using search = await es.create();
  const index = await search.index<{ at: string }>("dates", { at: "date" });
  await index.bulk([
    { op: "index", id: "ancient", doc: { at: "0050-01-01" } },
    { op: "index", id: "modern", doc: { at: "1950-01-01" } },
    { op: "index", id: "india", doc: { at: "2026-11-01T13:30:00+0530" } },
  ]);
  assert.deepEqual((await index.search({ filter: { at: "1950-01-01" } })).hits.map((h) => h.id), [
    "modern",
  ]);
  assert.deepEqual(
    (await index.search({ filter: { at: "2026-11-01T08:00:00Z" } })).hits.map((h) => h.id),
    ["india"],
  );
});

Deno.test("BM25 as Lucene computes it", () => {
  // One document of three in the field has the term once; its length equals the average.
  const idf = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5));
  assert.equal(bm25(1, 4, 3, 1, 4), idf * 1 / (1 + 1.2));
  assert.ok(bm25(3, 4, 3, 1, 4) > bm25(1, 4, 3, 1, 4), "more occurrences score more");
  assert.ok(bm25(1, 2, 3, 1, 4) > bm25(1, 8, 3, 1, 4), "shorter fields score more");
  assert.ok(bm25(1, 4, 3, 1, 4) > bm25(1, 4, 3, 2, 4), "rarer terms score more");
});
