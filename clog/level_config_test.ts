/** The log level follows the config center, on memory coord and on etcd when CI gives one. */
import assert from "node:assert/strict";
import * as coord from "../coord/mod.ts";
import { etcdCoord } from "../drivers/etcd.ts";
import { eventually } from "../testing/eventually.ts";
import { capturingLogger } from "../testing/logger.ts";
import { serviceUrl } from "../testing/services.ts";
import * as clog from "./mod.ts";

const etcd = serviceUrl("etcd");

for (const backend of ["memory", "etcd"] as const) {
  Deno.test({
    name:
      `[${backend}] clog.watchLevel: the level follows /config/{env}/{service}/clog; a bad value keeps the last good one`,
    ignore: backend === "etcd" && etcd === undefined,
    async fn() {
      const { logger: coordLogger, logs } = capturingLogger();
      await using coordinator = await coord.create(
        coord.defaultConfig("development"),
        {
          driver: backend === "etcd" ? etcdCoord({ endpoints: etcd! }) : undefined,
          logger: coordLogger,
        },
      );
      const sink = clog.memorySink();
      using logger = clog.create({ level: "info", format: "json", output: "stdout" }, {
        sinks: [sink],
      });
      const env = "test";
      const service = `svc-${crypto.randomUUID().slice(0, 8)}`;
      await using _watch = await clog.watchLevel(coordinator, { env, service, logger });
      assert.equal(logger.level, "info", "the configured level until the key holds one");
      const key = `/config/${env}/${service}/clog`;
      await coordinator.config.set(key, { level: "debug", format: "json" });
      await eventually(() => assert.equal(logger.level, "debug"));
      logger.namespace("im").debug("now visible");
      assert.equal(sink.records.at(-1)?.msg, "now visible", "children follow at once");
      await coordinator.config.set(key, { level: "loud" });
      await eventually(() => assert.ok(logs.records.some((r) => /loud/.test(JSON.stringify(r)))));
      assert.equal(logger.level, "debug", "the last good level stays");
      await coordinator.config.set(key, { level: "warn" });
      await eventually(() => assert.equal(logger.level, "warn"));
    },
  });
}

Deno.test("clog.watchLevel refuses a key segment with a slash, and parseLogConfig names the problem", async () => {
  await using coordinator = await coord.create(coord.defaultConfig("development"));
  await assert.rejects(
    clog.watchLevel(coordinator, { env: "prod", service: "a/b" }),
    /'service' must be a non-empty key segment without '\/': current value is "a\/b"/,
  );
  assert.deepEqual(clog.parseLogConfig({ level: "error", format: "json" }), { level: "error" });
  assert.throws(() => clog.parseLogConfig("debug"), /'level' is one of trace, debug/);
});
