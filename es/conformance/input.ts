/**
 * Search conformance: bad input to indexes and searches.
 *
 * @module
 */
import assert from "node:assert/strict";
import { capturingLogger } from "../../testing/logger.ts";
import * as es from "../mod.ts";
import type { Message, SearchSuiteContext } from "./_context.ts";

/**
 * Registers the bad-input case: each invalid call gets an error naming the
 * problem.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function inputCases(context: SearchSuiteContext): void {
  const { options, run, test, pair } = context;

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
