/** The kit's shared error shapes: one base for every lost hold, one way into DriverError. */
import assert from "node:assert/strict";
import { cache, coord, once } from "../mod.ts";
import { closedDriverError, driverError } from "../internal/errors.ts";

Deno.test("every …LostError is a LostError, keeping its own code, name and fields", () => {
  const lost: [Error, string][] = [
    [new coord.LockLostError("orders/1", 7), "COORD_LOCK_LOST"],
    [new coord.LeaseLostError("abc", "expired"), "COORD_LEASE_LOST"],
    [new coord.LeadershipLostError("leader"), "COORD_LEADERSHIP_LOST"],
    [new coord.InstanceIdLostError("im-logic", 3), "COORD_INSTANCE_ID_LOST"],
    [new cache.CacheLockLostError("job", 2, "renewal failed"), "CACHE_LOCK_LOST"],
    [new once.OnceLockLostError("pay:1", "renewal failed"), "ONCE_LOCK_LOST"],
  ];
  for (const [error, code] of lost) {
    assert.ok(error instanceof coord.LostError, error.name);
    assert.ok(error instanceof cache.LostError && error instanceof once.LostError);
    assert.equal((error as coord.LostError).code, code);
    assert.match(error.name, /LostError$/);
  }
  assert.equal((lost[0][0] as coord.LockLostError).token, 7);
  assert.ok(!(new coord.DriverError("x", "y", "z") instanceof coord.LostError));
});

Deno.test("driverError scrubs the cause of secrets and passes a DriverError through; closedDriverError says so", () => {
  const wrapped = driverError("redis", "get", new Error("auth failed for s3cret"), ["s3cret"]);
  assert.ok(wrapped instanceof coord.DriverError);
  assert.equal(wrapped.operation, "get");
  assert.doesNotMatch(wrapped.message, /s3cret/);
  assert.doesNotMatch(String((wrapped.cause as Error).message), /s3cret/);
  assert.equal(driverError("etcd", "put", wrapped), wrapped);
  assert.equal(
    closedDriverError("memory", "ping").message,
    "memory driver: ping failed: the driver is closed",
  );
});
