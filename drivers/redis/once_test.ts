import assert from "node:assert/strict";
import { onceConformance } from "../../once/conformance.ts";
import * as once from "../../once/mod.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { serviceUrl } from "../../testing/services.ts";
import { redisOnce } from "./mod.ts";

const url = serviceUrl("redis");

onceConformance({ name: "redis", makeDriver: () => redisOnce({ url }), ignore: url === undefined });

const worker = new URL("./testdata/once_worker.ts", import.meta.url).pathname;

Deno.test({
  name: "[redis] once: two processes racing one key run fn exactly once and both get its result",
  ignore: url === undefined,
  async fn() {
    const prefix = testKeyspace("two processes");
    const startAt = String(Date.now() + 1500);
    const spawn = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", worker, url ?? "", prefix, startAt],
        stdout: "piped",
        stderr: "inherit",
      }).output();
    const outputs = await Promise.all([spawn(), spawn()]);
    const results = outputs.map((output) => JSON.parse(new TextDecoder().decode(output.stdout)));
    assert.equal(results.filter((result) => result.ran).length, 1, "exactly one process ran fn");
    assert.deepEqual(results[0].value, results[1].value, "both got the same result");
    await using check = await once.create({
      ...once.defaultConfig("production"),
      keyPrefix: prefix,
    }, {
      driver: redisOnce({ url }),
    });
    assert.deepEqual(
      await check.execute("race", 60_000, () => Promise.resolve("late")),
      results[0].value,
    );
  },
});
