import assert from "node:assert/strict";
import * as db from "../db/mod.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import { searchConformance } from "./conformance.ts";
import * as es from "./mod.ts";

// PGlite takes seconds to start: one in-process database for the whole file, kept open.
const pglite = await db.create(db.defaultConfig("development"), { driver: pgliteDb() });
searchConformance({ name: "pglite", makeDriver: () => es.sqlSearch({ db: pglite }) });

Deno.test("[pglite] sqlSearch: BM25 in SQL gives the memory driver's scores", async () => {
  const docs = [
    "the quick brown fox jumps over the lazy dog",
    "a lazy dog sleeps all day long",
    "fox fox fox",
    "今天天气很好，我们去公园吧",
    "明天天气会下雨",
    "quick thinking",
  ].map((content, i) => ({ op: "index" as const, id: `d${i}`, doc: { content, n: i } }));
  const mappings: es.Mappings<{ content: string; n: number }> = { content: "text", n: "number" };
  const results = [];
  for (
    const driver of [es.memorySearch(), es.sqlSearch({ db: pglite, tablePrefix: "kit_bm25" })]
  ) {
    await using search = await es.create({ keyPrefix: "" }, { driver });
    const index = await search.index("bm25", mappings);
    await index.bulk(docs);
    results.push([
      await index.search({ text: "quick fox lazy" }),
      await index.search({ text: "天气 公园" }),
      await index.search({ text: "fox dog", operator: "and" }),
    ]);
    await index.drop();
  }
  const [memory, sql] = results;
  for (let q = 0; q < memory.length; q++) {
    assert.deepEqual(sql[q].hits.map((h) => h.id), memory[q].hits.map((h) => h.id), `query ${q}`);
    assert.equal(sql[q].total, memory[q].total);
    for (let h = 0; h < memory[q].hits.length; h++) {
      const [a, b] = [memory[q].hits[h].score, sql[q].hits[h].score];
      assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, a), `query ${q} hit ${h}: ${a} vs ${b}`);
    }
  }
  assert.ok(memory[0].hits.length >= 3, "the comparison covers several hits");
});

Deno.test("sqlSearch needs a db provider and a safe table prefix", () => {
  assert.throws(() => es.sqlSearch({} as es.SqlSearchOptions), /'db' must be a kit db provider/);
  assert.throws(
    () => es.sqlSearch({ db: pglite, tablePrefix: "Bad-Prefix" }),
    /'tablePrefix' must be lowercase letters, digits and '_'/,
  );
  assert.throws(
    () => es.sqlSearch({ db: pglite, url: "postgres://x/y" } as es.SqlSearchOptions),
    /^TypeError: Cannot create sqlSearch as 'url' is not an option \(allowed: db, tablePrefix\)/,
  );
});

Deno.test("[pglite] sqlSearch opens a provider from a function on first use and closes it", async () => {
  let opened = 0;
  let closed = 0;
  const driver = es.sqlSearch({
    db: () => {
      opened++;
      return Promise.resolve({
        ...pglite,
        close: () => {
          closed++;
          return Promise.resolve();
        },
      });
    },
    tablePrefix: "kit_opened",
  });
  assert.equal(opened, 0, "nothing is opened before first use");
  await using search = await es.create({ keyPrefix: "" }, { driver });
  await Promise.all([search.ping(), search.ping()]);
  assert.equal(opened, 1, "concurrent first uses open one provider");
  await search.close();
  assert.equal(closed, 1);
});
