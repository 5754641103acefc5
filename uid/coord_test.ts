import assert from "node:assert/strict";
import { quietLogger } from "../testing/logger.ts";
import * as coord from "../coord/mod.ts";
import { eventually } from "../testing/eventually.ts";
import * as uid from "./mod.ts";

Deno.test("uid.create() with coord leases distinct worker ids and gives them back on close", async () => {
  const store = new coord.MemoryCoordStore();
  await using a = await coord.create(coord.defaultConfig("development"), {
    driver: coord.memoryCoord({ store }),
  });
  await using b = await coord.create(coord.defaultConfig("development"), {
    driver: coord.memoryCoord({ store }),
  });
  const config = { ...uid.defaultConfig("production"), service: "orders", workerIdBits: 1 };
  const first = await uid.create(config, { coord: a });
  const second = await uid.create(config, { coord: b });
  assert.notEqual(first.workerId, second.workerId);
  assert.equal(first.parse(first.nextId()).workerId, first.workerId);
  await assert.rejects(uid.create(config, { coord: b }), /all 2 ids are taken/);
  await first.close();
  const third = await uid.create(config, { coord: b });
  assert.equal(third.workerId, first.workerId, "the released id is free again");
  await second.close();
  await third.close();
});

Deno.test("a generator stops issuing ids the moment its worker id lease is lost", async () => {
  const driver = coord.memoryCoord();
  await using provider = await coord.create({
    ...coord.defaultConfig("development"),
    leaseTtlMs: 200,
  }, {
    driver,
    logger: quietLogger(),
  });
  await using ids = await uid.create({ ...uid.defaultConfig("production"), service: "orders" }, {
    coord: provider,
  });
  ids.nextId();
  driver.setReachable(false);
  await eventually(() => assert.throws(() => ids.nextId(), /lease on worker id \d+ was lost/), {
    timeoutMs: 3000,
  });
});

Deno.test("uid.create() with coord requires a service name", async () => {
  await using provider = await coord.create();
  await assert.rejects(
    uid.create(uid.defaultConfig("production"), { coord: provider }),
    /'service' must be a non-empty string/,
  );
});
