import assert from "node:assert/strict";
import * as db from "../db/mod.ts";
import { searchConformance } from "../es/conformance.ts";
import * as es from "../es/mod.ts";
import { pgliteDb } from "./pglite.ts";
import { postgresSearch } from "./postgres.ts";

// PGlite takes seconds to start: one in-process database for the whole file, kept open.
const pglite = await db.create(db.defaultConfig("development"), { driver: pgliteDb() });
searchConformance({ name: "pglite", makeDriver: () => postgresSearch({ db: pglite }) });

const url = Deno.env.get("KIT_POSTGRES_URL");
searchConformance({
  name: "postgres",
  makeDriver: () => postgresSearch({ url: url ?? "postgres://unset" }),
  ignore: url === undefined,
});

Deno.test("[pglite] es: BM25 in SQL gives the memory driver's scores", async () => {
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
    const driver of [es.memorySearch(), postgresSearch({ db: pglite, tablePrefix: "kit_bm25" })]
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

Deno.test("postgresSearch needs a db or a url and a safe table prefix", () => {
  assert.throws(() => postgresSearch({}), /'db' or 'url' is needed/);
  assert.throws(
    () => postgresSearch({ db: pglite, tablePrefix: "Bad-Prefix" }),
    /'tablePrefix' must be lowercase letters, digits and '_'/,
  );
});

Deno.test({
  name: "[postgres] es: concurrent writes of one id all succeed; the index keeps one of them",
  ignore: url === undefined,
  async fn() {
    await using search = await es.create({ keyPrefix: "" }, {
      driver: postgresSearch({ url: url ?? "postgres://unset" }),
    });
    const index = await search.index<{ content: string }>(`race-${Date.now().toString(36)}`, {
      content: "text",
    });
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        [0, 1, 2, 3].map((i) => index.put("same", { content: `writer ${i} round ${round}` })),
      );
      await index.bulk([
        { op: "index", id: "b", doc: { content: "x" } },
        { op: "index", id: "a", doc: { content: "y" } },
      ]);
    }
    const { total, hits } = await index.search({ text: "writer" });
    assert.equal(total, 1);
    assert.match(hits[0].doc.content, /^writer \d round 9$/);
    await index.drop();
  },
});

Deno.test({
  name: "[postgres] es: two first opens of one index at once keep both sets of fields",
  ignore: url === undefined,
  async fn() {
    const connect = () =>
      es.create({ keyPrefix: "" }, {
        driver: postgresSearch({ url: url ?? "postgres://unset" }),
      });
    await using a = await connect();
    await using b = await connect();
    const warm = `warm-${Date.now().toString(36)}`; // connects both and creates the tables
    await Promise.all([a.index(warm, {}), b.index(warm, {})]);
    for (let round = 0; round < 10; round++) {
      const name = `first-open-${Date.now().toString(36)}-${round}`;
      await Promise.all([a.index(name, { a: "text" }), b.index(name, { b: "keyword" })]);
      for (const clash of [{ a: "keyword" }, { b: "text" }] as es.Mappings<es.Doc>[]) {
        await assert.rejects(a.index(name, clash), es.MappingConflictError, JSON.stringify(clash));
      }
      await (await a.index(name, {})).drop();
    }
    await (await a.index(warm, {})).drop();
  },
});
