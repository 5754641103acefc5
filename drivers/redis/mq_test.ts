import assert from "node:assert/strict";
import * as mq from "../../mq/mod.ts";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { serviceUrl } from "../../testing/services.ts";
import { redisMq } from "./mod.ts";
import { redisMqSuite } from "./testdata/mq_suite.ts";

const url = serviceUrl("redis");
const options = { url, sessionTimeoutMs: 1500, heartbeatMs: 300 };

redisMqSuite("redis", { url }, url === undefined);

const worker = new URL("./testdata/mq_worker.ts", import.meta.url).pathname;

Deno.test({
  name: "[redis] mq: a consumer process killed mid-message has it delivered to another member",
  ignore: url === undefined,
  async fn() {
    const topic = testKeyspace("killed consumer").replace(/[^a-zA-Z0-9._-]+/g, ".");
    await using queue = await mq.create(mq.defaultConfig("development"), {
      driver: redisMq(options),
    });
    await queue.admin.createTopic(topic, 2);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", worker, url ?? "", topic],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    while (!output.includes("holding")) output += (await reader.read()).value ?? "";
    // The worker owns both partitions now; it will hang on the first message it gets.
    await queue.producer().sendSync({ topic, key: "k", value: "unlucky" });
    while (!output.includes("got unlucky")) output += (await reader.read()).value ?? "";
    const seen: string[] = [];
    await using _subscription = await queue.consumer("workers").subscribe<string>(
      [topic],
      (m) => void seen.push(m.value),
    );
    Deno.kill(child.pid, "SIGKILL");
    await child.status;
    await reader.cancel();
    await eventually(() => assert.deepEqual(seen, ["unlucky"]), { timeoutMs: 15_000 });
  },
});

Deno.test({
  name:
    "[redis] mq: waitReplicas fails a send that too few replicas confirmed, naming the count; bad values are refused",
  ignore: url === undefined,
  async fn() {
    // The single test server has no replica: WAIT 1 answers 0 after its timeout.
    await using queue = await mq.create(mq.defaultConfig("development"), {
      driver: redisMq({ url, waitReplicas: 1, waitTimeoutMs: 50 }),
    });
    const topic = testKeyspace("wait replicas").replace(/[^a-zA-Z0-9._-]+/g, ".");
    await queue.admin.createTopic(topic, 1);
    await assert.rejects(
      queue.producer().sendSync({ topic, key: "k", value: "v" }),
      (error: Error) =>
        error instanceof mq.DriverError &&
        /only 0 of 1 replicas \(waitReplicas\) confirmed the batch within 50 ms/.test(
          String(error.cause ?? error.message),
        ),
    );
    assert.throws(
      () => redisMq({ url, waitReplicas: -1 }),
      /'waitReplicas' must be a non-negative integer/,
    );
    assert.throws(
      () => redisMq({ url, waitTimeoutMs: 1.5 }),
      /'waitTimeoutMs' must be a non-negative integer/,
    );
  },
});
