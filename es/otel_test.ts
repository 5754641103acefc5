/** es's OpenTelemetry spans, on an in-memory SDK: a client span per call of an index. */
import assert from "node:assert/strict";
import * as db from "../db/mod.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import { recordSpans } from "../testing/otel.ts";
import type { SearchDriver } from "./driver.ts";
import * as es from "./mod.ts";

interface Message extends Record<string, unknown> {
  content: string;
  room: string;
}
const MAPPINGS: es.Mappings<Message> = { content: "text", room: "keyword" };

/** A memory driver that calls itself `elasticsearch`, for the attributes of that system. */
function namedElasticsearch(): SearchDriver {
  const inner = es.memorySearch();
  return {
    name: "elasticsearch",
    ensureIndex: (index, mappings) => inner.ensureIndex(index, mappings),
    bulk: (index, items, refresh) => inner.bulk(index, items, refresh),
    get: (index, id) => inner.get(index, id),
    search: (index, mappings, query) => inner.search(index, mappings, query),
    dropIndex: (index) => inner.dropIndex(index),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
}

Deno.test("es spans: a search is a client span `search <index>`, child of the caller's, naming only the index", async () => {
  using recorder = recordSpans();
  await using search = await es.create();
  const messages = await search.index<Message>("messages", MAPPINGS);
  const request = recorder.startSpan("GET /search", 1);
  const found = await recorder.runIn(request, async () => {
    await messages.bulk([{
      op: "index",
      id: "m1",
      doc: { content: "secret weather", room: "r1" },
    }]);
    return await messages.search({ text: "secret", filter: { room: "r1" } });
  });
  request.end();
  assert.deepEqual(found.hits.map((hit) => hit.id), ["m1"]);

  const [bulk] = recorder.named("bulk messages");
  const [searched] = recorder.named("search messages");
  assert.ok(bulk && searched, `spans: ${recorder.spans.map((span) => span.name).join(", ")}`);
  for (const span of [bulk, searched]) {
    assert.equal(span.kind, 2, "client");
    assert.equal(span.parentSpanId, request.spanId);
    assert.equal(span.traceId, request.traceId);
    assert.equal(span.status.code, 0);
    assert.ok(span.ended);
    const recorded = JSON.stringify(span);
    for (const value of ["secret", "weather", "r1", "m1"]) {
      assert.ok(!recorded.includes(value), `${span.name} carries '${value}'`);
    }
  }
  assert.deepEqual(searched.attributes, {
    "db.system": "memory",
    "db.operation": "search",
    "db.namespace": "messages",
  });
  assert.equal(bulk.attributes["db.operation"], "bulk");
});

Deno.test("es spans: every call of an index has its operation; on Elasticsearch the index is its path part", async () => {
  using recorder = recordSpans();
  await using search = await es.create({ keyPrefix: "im-" }, { driver: namedElasticsearch() });
  const messages = await search.index<Message>("messages", MAPPINGS);
  await messages.put("m1", { content: "hello", room: "r1" });
  await messages.get("m1");
  await messages.delete("m1");
  await messages.drop();
  assert.deepEqual(recorder.spans.map((span) => span.name), [
    "index im-messages",
    "get im-messages",
    "delete im-messages",
    "indices.delete im-messages",
  ]);
  for (const span of recorder.spans) {
    assert.equal(span.kind, 2);
    assert.equal(span.attributes["db.system"], "elasticsearch");
    assert.equal(span.attributes["db.namespace"], "im-messages");
    assert.equal(span.attributes["db.elasticsearch.path_parts.index"], "im-messages");
    assert.equal(span.attributes["db.operation"], span.name.split(" ")[0]);
  }
});

Deno.test("es spans: a failed call is an error span", async () => {
  using recorder = recordSpans();
  await using search = await es.create();
  const messages = await search.index<Message>("messages", MAPPINGS);
  await assert.rejects(
    messages.search({ filter: { unknown: "x" } as never }),
    TypeError,
  );
  const [failed] = recorder.named("search messages");
  assert.equal(failed.status.code, 2);
  assert.ok(failed.ended);
});

Deno.test("[pglite] es spans: the SQL driver's statements are children of the search span", async () => {
  await using database = await db.create(db.defaultConfig("development"), { driver: pgliteDb() });
  await using search = await es.create({ keyPrefix: "" }, {
    driver: es.sqlSearch({ db: database }),
  });
  const messages = await search.index<Message>("messages", MAPPINGS);
  await messages.put("m1", { content: "secret weather", room: "r1" });
  using recorder = recordSpans();
  await messages.search({ text: "secret" });
  const [searched] = recorder.named("search messages");
  assert.equal(searched.attributes["db.system"], "postgresql");
  const statements = recorder.spans.filter((span) => span.parentSpanId === searched.spanId);
  assert.ok(statements.length > 0, "the SQL it ran");
  for (const span of statements) {
    assert.equal(span.attributes["db.system"], "postgresql");
    assert.ok(!JSON.stringify(span.attributes).includes("secret"), span.name);
  }
});
