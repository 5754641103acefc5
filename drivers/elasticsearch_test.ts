import assert from "node:assert/strict";
import { searchConformance } from "../es/conformance.ts";
import * as es from "../es/mod.ts";
import { serializeError } from "../clog/mod.ts";
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
  await using search = await es.create({ keyPrefix: "" }, { driver });
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

/** Everything a caller or a log line could show of an error: message, stack, cause chain, fields. */
function everything(error: unknown): string {
  return `${error}\n${(error as Error).stack}\n${JSON.stringify(serializeError(error as Error))}`;
}

Deno.test("elasticsearchSearch sends URL credentials as Authorization, and no error holds them", async () => {
  const password = "es-pa55:w/rd";
  const requests: { url: string; authorization: string | null }[] = [];
  let answer: "throw" | "401" = "throw";
  // A fetch (a proxy, an instrumented client) whose failures echo what it was sent.
  const echoing = (input: RequestInfo | URL, init?: RequestInit) => {
    const authorization = new Headers(init?.headers).get("authorization");
    requests.push({ url: String(input), authorization });
    const sent = `${input} with authorization ${authorization}`;
    if (answer === "throw") return Promise.reject(new TypeError(`request failed: ${sent}`));
    return Promise.resolve(
      new Response(
        JSON.stringify({ error: { type: "security_exception", reason: `rejected ${sent}` } }),
        { status: 401 },
      ),
    );
  };
  const driver = elasticsearchSearch({
    url: `http://elastic:${encodeURIComponent(password)}@127.0.0.1:9200/`,
    fetch: echoing as typeof fetch,
  });
  const token = btoa(`elastic:${password}`);
  for (const mode of ["throw", "401"] as const) {
    answer = mode;
    const error = await driver.get("messages", "1").then(() => undefined, (error) => error);
    assert.ok(error instanceof es.DriverError, String(error));
    assert.equal(error.operation, "get");
    for (const secret of [password, encodeURIComponent(password), token]) {
      assert.ok(!everything(error).includes(secret), `${mode}: ${everything(error)}`);
    }
  }
  assert.equal(requests[0].url, "http://127.0.0.1:9200/messages/_doc/1");
  assert.equal(requests[0].authorization, `Basic ${token}`);

  const apiKey = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
  const keyed = elasticsearchSearch({
    url: "http://127.0.0.1:9200",
    authorization: `ApiKey ${apiKey}`,
    fetch: echoing as typeof fetch,
  });
  answer = "throw";
  const error = await keyed.get("messages", "1").then(() => undefined, (error) => error);
  assert.ok(error instanceof es.DriverError);
  assert.ok(!everything(error).includes(apiKey), everything(error));
  assert.match(error.message, /request failed: http:\/\/127\.0\.0\.1:9200\/messages\/_doc\/1/);
});

Deno.test("elasticsearchSearch: a URL refused as invalid is not echoed with its password", () => {
  for (const url of ["elastic:hunter2@127.0.0.1:9200", "ftp://elastic:hunter2@127.0.0.1:9200"]) {
    assert.throws(
      () => elasticsearchSearch({ url }),
      (error: Error) =>
        error instanceof TypeError && /'url' must be an http\(s\) URL/.test(error.message) &&
        !error.message.includes("hunter2"),
    );
  }
});
