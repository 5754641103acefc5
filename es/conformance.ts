/**
 * The behaviour every search driver must show, as one suite of `Deno.test`
 * cases. Two providers share one backend, as two service instances would.
 * Scores are compared only by order on clear-cut cases: Elasticsearch stores
 * field lengths lossily, so its BM25 figures differ in the last digits.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { searchConformance } from "@gochat/kit/es/conformance";
 * import { es } from "@gochat/kit";
 *
 * const store = new es.MemorySearchStore();
 * searchConformance({ name: "memory", makeDriver: () => es.memorySearch({ store }) });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { capturingLogger } from "../testing/logger.ts";
import * as es from "./mod.ts";

/** How to run the suite against one driver. */
export interface SearchSuiteOptions {
  /** Driver name for test names (`[postgres] …`). */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): es.SearchDriver | Promise<es.SearchDriver>;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

interface Message extends es.Doc {
  content: string;
  title?: string;
  room?: string;
  likes?: number;
  pinned?: boolean;
  sentAt?: string | number;
}

const MAPPINGS: es.Mappings<Message> = {
  content: "text",
  title: "text",
  room: "keyword",
  likes: "number",
  pinned: "boolean",
  sentAt: "date",
};

let counter = 0;

/**
 * Registers the search conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function searchConformance(options: SearchSuiteOptions): void {
  const { name } = options;
  const run = Date.now().toString(36);

  async function pair(title: string) {
    const a = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const b = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const indexName = `${title.replaceAll(/[^a-z0-9]+/g, "-")}-${++counter}`;
    const ia = await a.index<Message>(indexName, MAPPINGS);
    const ib = await b.index<Message>(indexName, MAPPINGS);
    return {
      a: ia,
      b: ib,
      async [Symbol.asyncDispose]() {
        await ia.drop().catch(() => {});
        await a.close();
        await b.close();
      },
    };
  }

  const ids = (result: es.SearchResult<Message>) => result.hits.map((hit) => hit.id);

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] es: ${title}`, ignore: options.ignore, fn });

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), es.DriverError);
  });

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

  test("a dropped index is gone: its calls fail with a DriverError, and opening it again gives an empty one", async () => {
    await using env = await pair("drop");
    await env.a.put("x", { content: "kept?" }, { refresh: true });
    await env.a.drop();
    await assert.rejects(env.a.search({ text: "kept" }), es.DriverError);
    const search = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const again = await search.index<Message>(env.a.name.slice(`kit_${run}_`.length), MAPPINGS);
    assert.equal((await again.search({})).total, 0);
    await again.drop();
    await search.close();
  });

  test("reopening an index may add fields, not change a field's type", async () => {
    await using env = await pair("mappings");
    await env.a.put("m1", { content: "hello", room: "r1" }, { refresh: true });
    const search = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const name = env.a.name.slice(`kit_${run}_`.length);
    await assert.rejects(
      search.index<Message>(name, { ...MAPPINGS, room: "number" }),
      (error: Error) =>
        error instanceof es.MappingConflictError &&
        /field 'room' is keyword there, not number/.test(error.message),
    );
    const wider = await search.index<Message & { topic?: string }>(name, {
      ...MAPPINGS,
      topic: "keyword",
    });
    await wider.put("m2", { content: "bye", topic: "news" }, { refresh: true });
    assert.deepEqual(ids(await wider.search({ filter: { topic: "news" } })), ["m2"]);
    assert.deepEqual(ids(await env.b.search({ text: "hello" })), ["m1"], "earlier documents stay");
    await search.close();
  });

  test("calls take a signal: once it aborts nothing is sent", async () => {
    await using env = await pair("signal");
    const gone = new AbortController();
    gone.abort(new Error("request over"));
    const signal = gone.signal;
    await assert.rejects(env.a.put("x", { content: "no" }, { signal }), /request over/);
    await assert.rejects(env.a.search({}, { signal }), /request over/);
    await assert.rejects(env.a.get("x", { signal }), /request over/);
    assert.equal(await env.b.get("x"), undefined, "the refused write was not sent");
  });

  test("bad input gets a clear error naming the problem", async () => {
    await using env = await pair("bad");
    const search = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await assert.rejects(search.index("Bad Name", {}), /its name must be lowercase/);
    await assert.rejects(
      search.index("ok", { f: "fulltext" } as unknown as es.Mappings<es.Doc>),
      /field 'f' must be one of text, keyword, number, boolean, date/,
    );
    await search.close();
    await assert.rejects(
      env.a.put("x", { content: 5 } as unknown as Message),
      /text field 'content' must be a string/,
    );
    await assert.rejects(
      env.a.put("x", { content: "x", likes: "many" } as unknown as Message),
      /field 'likes'.*a number field takes a finite number/,
    );
    for (
      const sentAt of [
        "yesterday",
        "1",
        "2026-02-30",
        "Sun, 01 Nov 2026 08:00:00 GMT",
        "2026-11-01T08:00:00+99:99",
      ]
    ) {
      await assert.rejects(
        env.a.put("x", { content: "x", sentAt }),
        /ISO-8601 date or epoch milliseconds/,
        sentAt,
      );
    }
    await assert.rejects(
      env.a.put("x", { content: "x", big: 1n } as unknown as Message),
      /Cannot store document 'x' as JSON/,
    );
    await assert.rejects(env.a.put("", { content: "x" }), /'id' must be a string of 1 to 512/);
    await assert.rejects(
      env.a.put("doc\ud800", { content: "x" }),
      /'id' must be well-formed Unicode/,
      "a lone surrogate, which PostgreSQL and Elasticsearch would store as U+FFFD",
    );
    await assert.rejects(
      env.a.put("字".repeat(200), { content: "x" }),
      /1 to 512 bytes \(UTF-8\)/,
      "200 characters, 600 bytes",
    );
    await assert.rejects(
      env.a.search({ filter: { content: "x" } as es.SearchQuery<Message>["filter"] }),
      /'content' is not a keyword, number, boolean, date field/,
    );
    await assert.rejects(
      env.a.search({ fields: ["room"] }),
      /'room' is not a text field/,
    );
    await assert.rejects(env.a.search({ from: 9_999, size: 2 }), /from \+ size at most 10000/);
    await assert.rejects(
      env.a.bulk([{ op: "upsert", id: "x" } as unknown as es.BulkItem<Message>]),
      /'op' must be "index" or "delete"/,
    );
    assert.equal(await env.b.get("x"), undefined, "nothing was written by the refused calls");
  });
}
