/**
 * Coord conformance: presence — which instance holds which user, on leases.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the presence cases: users located across providers, connections counted, a left or
 * severed instance's users gone, and a lost lease joined again.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function presenceCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, pair } = context;
  const user = (name: string) => testKeyspace(`user ${name}`).replaceAll("/", "-");

  test("presence: users are located on the instances holding them, connections counted, until they leave", async () => {
    await using both = await pair();
    const [a, b] = both;
    const [ann, bob, cid] = [user("ann"), user("bob"), user("cid")];
    const gw1 = await a.provider.presence.join("gw-1");
    const gw2 = await b.provider.presence.join("gw-2");
    await gw1.add(ann);
    await gw1.add(ann); // a second tab
    await gw2.add(ann);
    await gw2.add(bob);
    assert.deepEqual(await b.provider.presence.locate(ann), ["gw-1", "gw-2"]);
    assert.deepEqual(
      Object.fromEntries(await a.provider.presence.locateMany([ann, bob, cid])),
      { [ann]: ["gw-1", "gw-2"], [bob]: ["gw-2"], [cid]: [] },
    );
    await gw1.remove(ann);
    assert.deepEqual(await b.provider.presence.locate(ann), ["gw-1", "gw-2"], "one tab still open");
    await gw1.remove(ann);
    assert.deepEqual(await b.provider.presence.locate(ann), ["gw-2"]);
    assert.deepEqual([...gw2.users].sort(), [ann, bob].sort());
    await gw2.leave();
    assert.equal(gw2.status, "left");
    assert.deepEqual(await a.provider.presence.locate(bob), []);
    await assert.rejects(gw2.add(cid), /presence member 'gw-2' has left/);
    await gw1.leave();
  });

  test("presence: a severed instance's users are gone after its TTL", async () => {
    await using both = await pair();
    const [a, b] = both;
    const dan = user("dan");
    const member = await a.provider.presence.join("gw-dead");
    await member.add(dan);
    assert.deepEqual(await b.provider.presence.locate(dan), ["gw-dead"]);
    await options.sever(a.driver);
    await eventually(
      async () => assert.deepEqual(await b.provider.presence.locate(dan), []),
      { timeoutMs: ttlMs * 3 + 3000 },
    );
  });

  test(
    "presence: a member whose lease was lost joins again by itself and writes its users back",
    async () => {
      await using both = await pair();
      const [a, b] = both;
      const eve = user("eve");
      const member = await a.provider.presence.join("gw-back");
      await member.add(eve);
      await options.sever(a.driver);
      await eventually(
        async () => assert.deepEqual(await b.provider.presence.locate(eve), []),
        { timeoutMs: ttlMs * 3 + 3000 },
      );
      await eventually(() => assert.equal(member.status, "rejoining"));
      await options.heal?.(a.driver);
      await eventually(
        async () => assert.deepEqual(await b.provider.presence.locate(eve), ["gw-back"]),
        { timeoutMs: ttlMs * 3 + 5000 },
      );
      assert.equal(member.status, "joined");
      assert.ok(a.logs.records.some((r) => r.msg.includes("presence lost its lease")));
    },
    !options.heal,
  );

  test("presence: bad ids are refused with the argument and value", async () => {
    await using both = await pair();
    const [a] = both;
    await assert.rejects(a.provider.presence.join("gw/1"), /'instanceId'.*"gw\/1"/);
    await using member = await a.provider.presence.join("gw-ok");
    await assert.rejects(member.add(""), /'user'/);
    await assert.rejects(a.provider.presence.locate("a/b"), /'user'.*"a\/b"/);
  });
}
