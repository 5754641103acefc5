import assert from "node:assert/strict";
import * as db from "../../db/mod.ts";
import { searchConformance } from "../../es/conformance.ts";
import * as es from "../../es/mod.ts";
import { postgresDb, postgresSearch } from "./mod.ts";

// The driver itself (es's sqlSearch) runs its suite on PGlite in es/sql_test.ts; here it runs on
// a PostgreSQL server, as postgresSearch opens it from a URL or is given a provider.
const url = Deno.env.get("KIT_POSTGRES_URL");
searchConformance({
  name: "postgres",
  makeDriver: () => postgresSearch({ url: url ?? "postgres://unset" }),
  ignore: url === undefined,
});

Deno.test("postgresSearch needs a db or a url and a safe table prefix", () => {
  assert.throws(() => postgresSearch({}), /'db' or 'url' is needed/);
  assert.throws(
    () => postgresSearch({ url: "postgres://x/y", tablePrefix: "Bad-Prefix" }),
    /'tablePrefix' must be lowercase letters, digits and '_'/,
  );
});

Deno.test({
  name: "[postgres] postgresSearch({ db }) searches on the given provider and leaves it open",
  ignore: url === undefined,
  async fn() {
    const database = await db.create({ ...db.defaultConfig("production"), url }, {
      driver: postgresDb(),
    });
    try {
      {
        await using search = await es.create({ keyPrefix: "" }, {
          driver: postgresSearch({ db: database, tablePrefix: "kit_given" }),
        });
        assert.equal(search.driver, "postgres");
        const index = await search.index<{ content: string }>(`given-${Date.now().toString(36)}`, {
          content: "text",
        });
        await index.put("a", { content: "hello world" });
        assert.deepEqual((await index.search({ text: "hello" })).hits.map((hit) => hit.id), ["a"]);
        await index.drop();
      }
      const [row] = await database.sql<{ one: number }>`select 1 as one`;
      assert.equal(row.one, 1, "the provider is still open");
    } finally {
      await database.close();
    }
  },
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
