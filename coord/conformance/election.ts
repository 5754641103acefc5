/**
 * Coord conformance: leader election, hand-over and `lost`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the election cases: leadership hand-over seen by observers, and
 * `lost` for a severed leader or campaign.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function electionCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, pair } = context;

  test("election: the first candidate leads, observers see the hand-over, the next one takes over on resign", async () => {
    await using both = await pair();
    const [a, b] = both;
    const name = testKeyspace("election");
    const electionA = a.provider.election<string>(name);
    const electionB = b.provider.election<string>(name);
    assert.equal(await electionB.leader(), undefined);
    const seen: (string | undefined)[] = [];
    const stop = new AbortController();
    const observing = (async () => {
      for await (const leader of electionB.observe({ signal: stop.signal })) {
        seen.push(leader?.value);
      }
    })();
    const first = await electionA.campaign("a");
    let secondWon = false;
    const second = electionB.campaign("b").then((leadership) => {
      secondWon = true;
      return leadership;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(secondWon, false);
    assert.deepEqual((await electionB.leader())?.value, "a");
    await first.proclaim("a2");
    await eventually(async () => assert.equal((await electionB.leader())?.value, "a2"));
    await first.resign();
    const leadership = await second;
    assert.ok(leadership.token > first.token);
    await eventually(() => assert.deepEqual(seen.filter((v) => v !== undefined).slice(-1), ["b"]));
    assert.ok(seen.includes("a") && seen.includes("a2"), seen.join());
    await leadership.resign();
    await eventually(() => assert.equal(seen.at(-1), undefined));
    stop.abort();
    await observing;
  });

  test("election: a severed leader's `lost` fires, and a campaign in progress aborts when its lease is lost", async () => {
    await using both = await pair();
    const [a, b] = both;
    const name = testKeyspace("election lost");
    const leader = await b.provider.election<string>(name).campaign("b");
    const campaign = a.provider.election<string>(name).campaign("a");
    await new Promise((resolve) => setTimeout(resolve, 100));
    await options.sever(a.driver);
    await assert.rejects(campaign, coord.LeaseLostError);
    assert.equal(leader.lost.aborted, false);
    assert.equal((await b.provider.election<string>(name).leader())?.value, "b");
    await options.sever(b.driver);
    await eventually(() => assert.ok(leader.lost.aborted), { timeoutMs: ttlMs * 3 + 2000 });
    assert.ok(leader.lost.reason instanceof coord.LeadershipLostError);
  });
}
