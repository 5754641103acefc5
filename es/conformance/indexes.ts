/**
 * Search conformance: dropping and reopening indexes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { capturingLogger } from "../../testing/logger.ts";
import * as es from "../mod.ts";
import { MAPPINGS, type Message, type SearchSuiteContext } from "./_context.ts";

/**
 * Registers the index cases: a dropped index is gone, and reopening one may add
 * fields but not change a field's type.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function indexCases(context: SearchSuiteContext): void {
  const { options, run, test, pair, ids } = context;

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
}
