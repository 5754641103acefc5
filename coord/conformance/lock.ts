/**
 * Coord conformance: distributed locks with fencing tokens, and a severed holder's lock.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as coord from "../mod.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the lock cases: exclusion with fencing tokens across two providers,
 * `tryAcquire` and waiting, and a severed holder's lock.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lockCases(context: CoordSuiteContext): void {
  const { options, ttlMs, test, pair } = context;

  test("N increments under the lock from two providers give exactly N, with strictly increasing tokens", async () => {
    await using both = await pair();
    const lockKey = testKeyspace("counter lock");
    const counterKey = `/config/${lockKey}counter`;
    await both[0].provider.config.set(counterKey, 0);
    const perProvider = 15;
    const tokens: number[] = [];
    await Promise.all(both.map(async ({ provider }) => {
      for (let i = 0; i < perProvider; i++) {
        await using lock = await provider.lock.acquire(lockKey);
        tokens.push(lock.token);
        const value = await provider.config.get<number>(counterKey);
        await new Promise((resolve) => setTimeout(resolve, 1)); // widen the race a lock must close
        await provider.config.set(counterKey, (value ?? 0) + 1);
      }
    }));
    assert.equal(await both[0].provider.config.get(counterKey), 2 * perProvider);
    for (let i = 1; i < tokens.length; i++) {
      assert.ok(tokens[i] > tokens[i - 1], `token ${tokens[i]} after ${tokens[i - 1]}`);
    }
  });

  test("tryAcquire returns null while held; acquire waits for the release; an aborted acquire gives up", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = testKeyspace("try lock");
    const held = await a.provider.lock.acquire(key);
    assert.equal(await b.provider.lock.tryAcquire(key), null);
    const aborted = new AbortController();
    const abandoned = b.provider.lock.acquire(key, { signal: aborted.signal });
    aborted.abort(new Error("caller gave up"));
    await assert.rejects(abandoned, /caller gave up/);
    let acquired = false;
    const waiting = b.provider.lock.acquire(key).then((lock) => {
      acquired = true;
      return lock;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(acquired, false, "still waiting while held");
    assert.ok((await held.ttl()) > 0);
    await held.renew();
    await held.unlock();
    const next = await waiting;
    assert.ok(next.token > held.token);
    assert.equal(held.lost.aborted, false, "unlock is not a loss");
    await next.unlock();
  });

  test("a severed holder's lock is released after its TTL and `lost` fires on the holder's side", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = testKeyspace("severed lock");
    const held = await a.provider.lock.acquire(key);
    const started = Date.now();
    await options.sever(a.driver);
    const next = await b.provider.lock.acquire(key, {
      signal: AbortSignal.timeout(ttlMs * 5 + 5000),
    });
    assert.ok(Date.now() - started >= ttlMs * 0.5, "not before the lease could expire");
    assert.ok(next.token > held.token);
    await eventually(() => assert.ok(held.lost.aborted), { timeoutMs: ttlMs * 3 + 2000 });
    assert.ok(held.lost.reason instanceof coord.LockLostError);
    await next.unlock();
  });
}
