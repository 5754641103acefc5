import assert from "node:assert/strict";
import { searchConformance } from "../es/conformance.ts";
import * as es from "../es/mod.ts";
import { elasticsearchSearch } from "./elasticsearch.ts";

// Runs only with a cluster: KIT_ES_URL=http://127.0.0.1:9200 (docker compose up -d elasticsearch).
const url = Deno.env.get("KIT_ES_URL");
searchConformance({
  name: "elasticsearch",
  makeDriver: () => elasticsearchSearch({ url: url ?? "http://unset" }),
  ignore: url === undefined,
});

Deno.test("elasticsearchSearch: an unreachable cluster is a DriverError naming the operation", async () => {
  const driver = elasticsearchSearch({ url: "http://127.0.0.1:1", timeoutMs: 2_000 });
  await using search = await es.create(es.defaultConfig("development"), { driver });
  await assert.rejects(
    search.index("messages", { content: "text" }),
    (error: es.DriverError) =>
      error instanceof es.DriverError && error.driver === "elasticsearch" &&
      error.operation === "ensureIndex",
  );
});

Deno.test("elasticsearchSearch needs an http(s) URL", () => {
  assert.throws(
    () => elasticsearchSearch({ url: "127.0.0.1:9200" }),
    /'url' must be an http\(s\) URL: current value is "127.0.0.1:9200"/,
  );
});
