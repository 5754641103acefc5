/**
 * Coord conformance: signals on single calls and handles, and what arrives after the caller aborted.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import type { CoordSuiteContext } from "./_context.ts";

/**
 * Registers the single-call signal case: config and registry calls honour an
 * aborted signal and send nothing.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function signalCases(context: CoordSuiteContext): void {
  const { test, pair } = context;

  test("single calls take a signal: once it aborts nothing is sent and each rejects with its reason", async () => {
    await using both = await pair();
    const [a, b] = both;
    const prefix = `/config/${testKeyspace("config signal")}`;
    const controller = new AbortController();
    const signal = controller.signal;
    await a.provider.config.set(`${prefix}k`, 1, { signal });
    assert.equal(await a.provider.config.get(`${prefix}k`, { signal }), 1);
    assert.deepEqual(await a.provider.registry.discover("no-such-service", { signal }), []);
    controller.abort(new Error("request over"));
    for (
      const call of [
        () => a.provider.config.set(`${prefix}k`, 2, { signal }),
        () => a.provider.config.get(`${prefix}k`, { signal }),
        () => a.provider.config.getWithVersion(`${prefix}k`, { signal }),
        () => a.provider.config.compareAndSet(`${prefix}k`, 3, 0, { signal }),
        () => a.provider.config.delete(`${prefix}k`, { signal }),
        () => a.provider.config.list(prefix, { signal }),
        () => a.provider.registry.discover("no-such-service", { signal }),
      ]
    ) {
      await assert.rejects(call(), /request over/);
    }
    assert.equal(await b.provider.config.get(`${prefix}k`), 1, "the refused writes were not sent");
    await assert.rejects(
      a.provider.config.get(`${prefix}k`, { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });
}

/**
 * Registers the handle signal case: calls on locks, registrations, leaderships
 * and instance ids honour an aborted signal, and their releases still happen.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function handleSignalCases(context: CoordSuiteContext): void {
  const { test, pair } = context;

  test("handles take a signal too: once it aborts calls are refused, but releases still happen", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = testKeyspace("handle signal");
    const service = key.replaceAll("/", "-");
    const lock = await a.provider.lock.acquire(`${key}/lock`);
    const registration = await a.provider.registry.register({
      id: "i1",
      name: service,
      address: "h",
      port: 1,
    });
    const election = a.provider.election<string>(`${key}/election`);
    const leadership = await election.campaign("a");
    const instanceId = await a.provider.instanceIds.allocate(service, 1);
    const controller = new AbortController();
    controller.abort(new Error("request over"));
    const signal = controller.signal;
    for (
      const call of [
        () => lock.renew({ signal }),
        () => lock.ttl({ signal }),
        () => a.provider.lock.tryAcquire(`${key}/other`, { signal }),
        () => a.provider.lock.acquire(`${key}/other`, { signal }),
        () =>
          a.provider.registry.register({ id: "i2", name: service, address: "h", port: 2 }, {
            signal,
          }),
        () => a.provider.registry.pick(service, { signal }),
        () => leadership.proclaim("a2", { signal }),
        () => election.leader({ signal }),
        () => election.campaign("again", { signal }),
        () => a.provider.instanceIds.allocate(`${service}-2`, 1, { signal }),
      ]
    ) {
      await assert.rejects(call(), /request over/);
    }
    assert.equal(await b.provider.lock.tryAcquire(`${key}/lock`), null, "still held");
    const other = await b.provider.lock.tryAcquire(`${key}/other`);
    assert.ok(other, "the refused acquire and tryAcquire took nothing");
    await other.unlock();
    assert.deepEqual((await b.provider.registry.discover(service)).map((s) => s.id), ["i1"]);
    assert.equal((await b.provider.election<string>(`${key}/election`).leader())?.value, "a");
    await assert.rejects(b.provider.instanceIds.allocate(service, 1), /all 1 ids are taken/);
    // A request that has ended still cleans up: the releases reject with its reason, and happen.
    for (
      const release of [
        () => lock.unlock({ signal }),
        () => registration.unregister({ signal }),
        () => leadership.resign({ signal }),
        () => instanceId.release({ signal }),
      ]
    ) {
      await assert.rejects(release(), /request over/);
    }
    await eventually(async () => {
      const lockAgain = await b.provider.lock.tryAcquire(`${key}/lock`);
      assert.ok(lockAgain, "unlocked");
      await lockAgain.unlock();
    });
    await eventually(async () =>
      assert.deepEqual(await b.provider.registry.discover(service), [], "unregistered")
    );
    await eventually(async () =>
      assert.equal(await b.provider.election<string>(`${key}/election`).leader(), undefined)
    );
    const freed = await eventually(() => b.provider.instanceIds.allocate(service, 1));
    await freed.release();
    assert.equal(lock.lost.aborted, false, "an unlock is not a loss");
    // A register refused for its signal leaves the id free to register.
    await assert.rejects(
      a.provider.registry.register({ id: "i3", name: service, address: "h", port: 3 }, { signal }),
      /request over/,
    );
    await (await a.provider.registry.register({ id: "i3", name: service, address: "h", port: 3 }))
      .unregister();
    await assert.rejects(
      a.provider.lock.tryAcquire(key, { signal: "soon" as unknown as AbortSignal }),
      /'signal' must be an AbortSignal/,
    );
  });
}

/**
 * Registers the abandoned call case: what a call gets after its caller aborted
 * (a lock, a registration, a leadership, an instance id) is given back.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function abandonedCallCases(context: CoordSuiteContext): void {
  const { test, pair } = context;

  test("what a call gets after its caller aborted is given back: a lock, a registration, a leadership, an instance id", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = testKeyspace("abandoned");
    const service = key.replaceAll("/", "-");
    /** Starts a call, then aborts while it is in flight: the caller is told at once. */
    const abandon = async (start: (signal: AbortSignal) => Promise<unknown>) => {
      const controller = new AbortController();
      const pending = start(controller.signal);
      controller.abort(new Error("caller left"));
      await assert.rejects(pending, /caller left/);
    };
    await abandon((signal) => a.provider.lock.tryAcquire(`${key}/try`, { signal }));
    await abandon((signal) => a.provider.lock.acquire(`${key}/wait`, { signal }));
    await abandon((signal) =>
      a.provider.registry.register({ id: "i1", name: service, address: "h", port: 1 }, { signal })
    );
    await abandon((signal) =>
      a.provider.election<string>(`${key}/election`).campaign("a", { signal })
    );
    await abandon((signal) => a.provider.instanceIds.allocate(service, 1, { signal }));
    // a stays open and keeps its leases alive, so only a release frees these before close().
    for (const lockKey of [`${key}/try`, `${key}/wait`]) {
      await eventually(async () => {
        const lock = await b.provider.lock.tryAcquire(lockKey);
        assert.ok(lock, `lock ${lockKey} was given back`);
        await lock.unlock();
      });
    }
    await eventually(async () =>
      assert.deepEqual(await b.provider.registry.discover(service), [], "entry removed")
    );
    const again = await a.provider.registry.register({
      id: "i1",
      name: service,
      address: "h",
      port: 1,
    });
    await again.unregister();
    const leadership = await b.provider.election<string>(`${key}/election`).campaign("b", {
      signal: AbortSignal.timeout(5000),
    });
    await leadership.resign();
    const id = await eventually(() => b.provider.instanceIds.allocate(service, 1));
    assert.equal(id.id, 0);
    await id.release();
  });
}
