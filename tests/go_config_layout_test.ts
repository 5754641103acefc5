/**
 * A mixed Go/Deno fleet on one config center: ratelimit rules and breaker policies are read from
 * the kit's single key and from the Go kit's one-key-per-entry layout
 * (`/config/{env}/{service}/breakers/{name}.json`, `default.json`; `…/ratelimit/{rule}`), merged,
 * hot-reloaded and validated together; on the memory coord and on etcd (KIT_ETCD_ENDPOINTS).
 */
import assert from "node:assert/strict";
import { breaker, coord, ratelimit } from "../mod.ts";
import { etcdCoord } from "../drivers/etcd.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import { capturingLogger, quietLogger } from "../testing/logger.ts";

const endpoints = Deno.env.get("KIT_ETCD_ENDPOINTS");

for (const backend of ["memory", "etcd"] as const) {
  const makeCoord = (keyPrefix: string, logger = quietLogger()) =>
    coord.create({ ...coord.defaultConfig("development"), keyPrefix }, {
      driver: backend === "etcd" ? etcdCoord({ endpoints: endpoints ?? "" }) : undefined,
      logger,
    });

  Deno.test({
    name: `[${
      backend === "etcd" ? "etcd" : "memory"
    }] ratelimit reads the kit's rules key and the Go kit's key per rule, merged and hot-reloaded`,
    ignore: backend === "etcd" && endpoints === undefined,
    async fn() {
      const { logger, logs } = capturingLogger(); // the config center logs what it rejects
      await using center = await makeCoord(
        `/${testKeyspace("go-ratelimit").replace(/\/$/, "")}`,
        logger,
      );
      const base = coord.configKey("prod", "gateway", "ratelimit");
      await center.config.set(base, { api: { rate: 100, burst: 10 } });
      await center.config.set(`${base}/send`, { rate: 5, burst: 1 }); // the Go kit's layout
      await center.config.set(`${base}x`, { ignored: { rate: 1 } }); // a sibling, not ours
      await using limiter = await ratelimit.create(
        { ...ratelimit.defaultConfig("production"), env: "prod", service: "gateway" },
        { coord: center, logger: quietLogger() },
      );
      assert.deepEqual(Object.keys(limiter.rules()).sort(), ["api", "send"]);
      assert.equal(limiter.rules().send.rate, 5);
      assert.equal((await limiter.allow("u", "send")).allowed, true);
      assert.equal((await limiter.allow("u", "send")).allowed, false);
      // An entry key wins over the same name in the object, and changes hot-reload.
      await center.config.set(`${base}/api`, { rate: 7, burst: 7 });
      await eventually(() => assert.equal(limiter.rules().api.rate, 7));
      // An invalid entry is rejected as a whole; the last good rules stay.
      await center.config.set(`${base}/send`, { rate: -1 });
      await eventually(() => assert.ok(logs.records.some((r) => /rejected/.test(r.msg))));
      assert.equal(limiter.rules().send.rate, 5);
      // A deleted entry key drops its rule.
      await center.config.delete(`${base}/send`);
      await eventually(() => assert.deepEqual(Object.keys(limiter.rules()).sort(), ["api"]));
    },
  });

  Deno.test({
    name: `[${
      backend === "etcd" ? "etcd" : "memory"
    }] breaker reads the Go kit's breakers/{name}.json and default.json beside the kit's key`,
    ignore: backend === "etcd" && endpoints === undefined,
    async fn() {
      await using center = await makeCoord(`/${testKeyspace("go-breaker").replace(/\/$/, "")}`);
      const dir = `${coord.configKey("prod", "logic", "breaker")}s`; // …/breakers, the Go kit's
      await center.config.set(`${dir}/default.json`, { consecutiveFailures: 9 });
      await center.config.set(`${dir}/repo.json`, { consecutiveFailures: 2, openMs: 60_000 });
      await using breakers = await breaker.create(
        { ...breaker.defaultConfig("production"), env: "prod", service: "logic" },
        { coord: center, logger: quietLogger() },
      );
      assert.equal(breakers.policies().repo.consecutiveFailures, 2);
      assert.equal(breakers.policies().default.consecutiveFailures, 9);
      const repo = breakers.get("repo");
      for (let i = 0; i < 2; i++) {
        await assert.rejects(repo.do(() => Promise.reject(new Error("down"))));
      }
      assert.equal(repo.state, "open", "opened after the Go policy's 2 failures");
      await center.config.set(`${dir}/repo.json`, { consecutiveFailures: 4 });
      await eventually(() => assert.equal(breakers.policies().repo.consecutiveFailures, 4));
    },
  });
}
