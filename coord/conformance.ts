/**
 * The behaviour every coord driver must show, as one suite of `Deno.test`
 * cases. Each case runs two providers on one backend (two clients of one
 * store or cluster), as two service instances would.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { coordConformance } from "@gochat/kit/coord/conformance";
 * import { coord } from "@gochat/kit";
 *
 * const store = new coord.MemoryCoordStore();
 * coordConformance({
 *   name: "memory",
 *   makeDriver: () => coord.memoryCoord({ store }),
 *   sever: (driver) => (driver as coord.MemoryCoordDriver).setReachable(false),
 *   heal: (driver) => (driver as coord.MemoryCoordDriver).setReachable(true),
 *   ttlMs: 300,
 * });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import type * as clog from "../clog/mod.ts";
import { eventually } from "../testing/eventually.ts";
import { testKeyspace } from "../testing/keyspace.ts";
import * as coord from "./mod.ts";
import { capturingLogger } from "../testing/logger.ts";

/** How to run the suite against one driver. */
export interface CoordSuiteOptions {
  /** Driver name for test names (`[etcd] …`); a service name also tells `.ci/run` whose suite it is. */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): coord.CoordDriver | Promise<coord.CoordDriver>;
  /** Cuts a client off from the backend without releasing anything it holds (a crash or partition). */
  sever(driver: coord.CoordDriver): void | Promise<void>;
  /**
   * Reconnects a severed client. A driver that cannot (etcd: a closed client stays closed) leaves
   * it out, and the re-registration case is then covered by that driver's own fault test.
   */
  heal?(driver: coord.CoordDriver): void | Promise<void>;
  /** A short lease TTL the backend grants exactly (memory: a few hundred ms; etcd: 2000). */
  readonly ttlMs: number;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

interface Instance {
  provider: coord.Coord;
  driver: coord.CoordDriver;
  logs: clog.MemorySink;
}

/**
 * Registers the coord conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function coordConformance(options: CoordSuiteOptions): void {
  const { name, ttlMs } = options;

  async function provider(prefix?: string): Promise<Instance> {
    const driver = await options.makeDriver();
    const { logger, logs } = capturingLogger();
    const provider = await coord.create(
      {
        ...coord.defaultConfig("development"),
        leaseTtlMs: ttlMs,
        lockTtlMs: ttlMs,
        keyPrefix: prefix,
      },
      { driver, logger },
    );
    return { provider, driver, logs };
  }

  /** Two providers on one backend, each under its own key prefix when `prefixes` are given. */
  async function pair(
    prefixes: readonly [string, string] | [] = [],
  ): Promise<[Instance, Instance] & AsyncDisposable> {
    const both = [await provider(prefixes[0]), await provider(prefixes[1])] as
      & [Instance, Instance]
      & AsyncDisposable;
    both[Symbol.asyncDispose] = async () => {
      await Promise.all(both.map((instance) => instance.provider.close()));
    };
    return both;
  }

  /** `unsupported` cases are not registered at all: a driver declares what it cannot do. */
  const test = (title: string, fn: () => Promise<void>, unsupported = false) => {
    if (!unsupported) Deno.test({ name: `[${name}] coord: ${title}`, ignore: options.ignore, fn });
  };

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const { provider: instance } = await provider();
    await instance.ping();
    await instance.ping({ signal: new AbortController().signal });
    await instance.close();
    await assert.rejects(instance.ping(), coord.DriverError);
  });

  test("config get/set/delete/list round-trip typed JSON between two providers", async () => {
    await using both = await pair();
    const [a, b] = both;
    const prefix = `/config/${testKeyspace("config crud")}`;
    await a.provider.config.set(`${prefix}limits`, { rate: 100, burst: [1, 2], name: "x" });
    await a.provider.config.set(`${prefix}flag`, true);
    assert.deepEqual(await b.provider.config.get(`${prefix}limits`), {
      rate: 100,
      burst: [1, 2],
      name: "x",
    });
    assert.equal(await b.provider.config.get(`${prefix}missing`), undefined);
    assert.deepEqual(await b.provider.config.list(prefix), [
      { key: `${prefix}flag`, value: true },
      { key: `${prefix}limits`, value: { rate: 100, burst: [1, 2], name: "x" } },
    ]);
    assert.equal(await b.provider.config.delete(`${prefix}flag`), true);
    assert.equal(await b.provider.config.delete(`${prefix}flag`), false);
    assert.equal(await a.provider.config.get(`${prefix}flag`), undefined);
  });

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

  test("compareAndSet only writes over the version it read, so concurrent updates never get lost", async () => {
    await using both = await pair();
    const key = `/config/${testKeyspace("cas")}counter`;
    assert.equal(
      await both[0].provider.config.compareAndSet(key, 0, 0),
      true,
      "creates when absent",
    );
    assert.equal(await both[1].provider.config.compareAndSet(key, 0, 0), false, "only once");
    const increments = 20;
    await Promise.all(both.map(async ({ provider }) => {
      for (let done = 0; done < increments;) {
        const current = await provider.config.getWithVersion<number>(key);
        assert.ok(current);
        if (await provider.config.compareAndSet(key, current.value + 1, current.version)) done++;
      }
    }));
    assert.equal(await both[0].provider.config.get(key), 2 * increments);
  });

  test("config watch starts with the current value and delivers every change in order", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = `/config/${testKeyspace("watch")}value`;
    await a.provider.config.set(key, -1);
    const seen: (number | "deleted")[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const event of b.provider.config.watch<number>(key, { signal: stop.signal })) {
        seen.push(event.type === "put" ? event.value : "deleted");
        if (seen.length === 52) break;
      }
    })();
    await eventually(() => assert.deepEqual(seen, [-1]));
    for (let i = 0; i < 50; i++) await a.provider.config.set(key, i);
    await a.provider.config.delete(key);
    await watching;
    assert.deepEqual(seen, [-1, ...Array.from({ length: 50 }, (_, i) => i), "deleted"]);
  });

  test("watchPrefix sees puts and deletes of every key under the prefix", async () => {
    await using both = await pair();
    const prefix = `/config/${testKeyspace("watch prefix")}`;
    const seen: string[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (
        const event of both[1].provider.config.watchPrefix(prefix, { signal: stop.signal })
      ) {
        seen.push(`${event.type} ${event.key.slice(prefix.length)}`);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await both[0].provider.config.set(`${prefix}a`, 1);
    await both[0].provider.config.set(`${prefix}b`, 2);
    await both[0].provider.config.delete(`${prefix}a`);
    await eventually(() => assert.deepEqual(seen, ["put a", "put b", "delete a"]));
    stop.abort();
    await watching;
  });

  test("manager applies valid updates live, keeps the last good value on a bad one and says why", async () => {
    await using both = await pair();
    const [a, b] = both;
    const key = coord.configKey("test", testKeyspace("manager").replaceAll("/", "-"), "ratelimit");
    const validate = (value: unknown) => {
      const rate = (value as { rate?: unknown })?.rate;
      if (typeof rate !== "number" || rate <= 0) {
        throw new TypeError(`rate must be a positive number, got ${rate}`);
      }
      return value as { rate: number };
    };
    await using manager = await b.provider.config.manager(key, { default: { rate: 1 }, validate });
    assert.deepEqual(manager.current, { rate: 1 });
    const changes: number[] = [];
    manager.onChange((value) => changes.push(value.rate));
    await a.provider.config.set(key, { rate: 50 });
    await eventually(() => assert.deepEqual(manager.current, { rate: 50 }));
    await a.provider.config.set(key, { rate: -5 });
    await eventually(() =>
      assert.ok(
        b.logs.records.some((r) =>
          r.msg.includes("rejected") &&
          /rate must be a positive number/.test(String(r.fields.reason))
        ),
      )
    );
    assert.deepEqual(manager.current, { rate: 50 }, "the last good value stays");
    await a.provider.config.set(key, { rate: 70 });
    await eventually(() => assert.deepEqual(manager.current, { rate: 70 }));
    await a.provider.config.delete(key);
    await eventually(() => assert.deepEqual(manager.current, { rate: 1 }), {});
    assert.deepEqual(changes, [50, 70, 1]);
  });

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

  test("registry: register, discover, watch from a snapshot, pick round robin, unregister", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("svc").replaceAll("/", "-");
    const events: string[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const event of b.provider.registry.watch(service, { signal: stop.signal })) {
        events.push(
          event.type === "snapshot"
            ? `snapshot ${event.instances.map((i) => i.id).join(",")}`
            : event.type === "put"
            ? `put ${event.instance.id}`
            : `delete ${event.id}`,
        );
      }
    })();
    await eventually(() => assert.deepEqual(events, ["snapshot "]));
    const one = await a.provider.registry.register({
      id: "i1",
      name: service,
      address: "10.0.0.1",
      port: 81,
      metadata: { zone: "a" },
    });
    await a.provider.registry.register({ id: "i2", name: service, address: "10.0.0.2", port: 82 });
    const found = await b.provider.registry.discover(service);
    assert.deepEqual(found.map((s) => [s.id, s.port]), [["i1", 81], ["i2", 82]]);
    assert.deepEqual(found[0].metadata, { zone: "a" });
    await eventually(async () => {
      const picks = [];
      for (let i = 0; i < 4; i++) picks.push((await b.provider.registry.pick(service)).id);
      assert.deepEqual(picks.sort(), ["i1", "i1", "i2", "i2"]);
    });
    const random = await b.provider.registry.pick(service, { strategy: "random" });
    assert.ok(["i1", "i2"].includes(random.id));
    await one.unregister();
    assert.equal(await a.provider.registry.unregister("i2"), true);
    assert.equal(await a.provider.registry.unregister("i2"), false);
    await eventually(() =>
      assert.deepEqual(events, ["snapshot ", "put i1", "put i2", "delete i1", "delete i2"])
    );
    await eventually(() =>
      assert.rejects(b.provider.registry.pick(service), coord.NoInstanceError)
    );
    stop.abort();
    await watching;
  });

  test("a severed instance's registration disappears after its TTL", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("svc ttl").replaceAll("/", "-");
    await a.provider.registry.register({ id: "gone", name: service, address: "h", port: 1 });
    assert.equal((await b.provider.registry.discover(service)).length, 1);
    await options.sever(a.driver);
    await eventually(
      async () => assert.equal((await b.provider.registry.discover(service)).length, 0),
      {
        timeoutMs: ttlMs * 3 + 3000,
      },
    );
  });

  test(
    "a registration whose lease was lost registers again by itself once the backend is back",
    async () => {
      await using both = await pair();
      const [a, b] = both;
      const service = testKeyspace("svc heal").replaceAll("/", "-");
      const registration = await a.provider.registry.register({
        id: "back",
        name: service,
        address: "h",
        port: 1,
      });
      await options.sever(a.driver);
      await eventually(
        async () => assert.equal((await b.provider.registry.discover(service)).length, 0),
        {
          timeoutMs: ttlMs * 3 + 3000,
        },
      );
      await eventually(() => assert.equal(registration.status, "re-registering"));
      await options.heal?.(a.driver);
      await eventually(
        async () => assert.equal((await b.provider.registry.discover(service)).length, 1),
        {
          timeoutMs: ttlMs * 3 + 5000,
        },
      );
      assert.equal(registration.status, "registered");
      assert.ok(registration.restored >= 1);
      assert.ok(a.logs.records.some((r) => r.msg.includes("registration lost its lease")));
    },
    !options.heal,
  );

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

  test("instance ids: distinct per owner, exhausted is an error, a severed owner's id is freed after its TTL", async () => {
    await using both = await pair();
    const [a, b] = both;
    const service = testKeyspace("ids").replaceAll("/", "-");
    const first = await a.provider.instanceIds.allocate(service, 2);
    const second = await b.provider.instanceIds.allocate(service, 2);
    assert.notEqual(first.id, second.id);
    await assert.rejects(b.provider.instanceIds.allocate(service, 2), /all 2 ids are taken/);
    await options.sever(a.driver);
    await eventually(() => assert.ok(first.lost.aborted), { timeoutMs: ttlMs * 3 + 2000 });
    assert.ok(first.lost.reason instanceof coord.InstanceIdLostError);
    const reused = await eventually(() => b.provider.instanceIds.allocate(service, 2), {
      timeoutMs: ttlMs * 3 + 3000,
    });
    assert.equal(reused.id, first.id);
    await first.release(); // releasing a lost id must not delete the new owner's key
    const third = await b.provider.instanceIds.allocate(service, 3);
    assert.equal(third.id, 2, "ids 0 and 1 are both still held");
  });

  test("a prefix is a path segment: tenants '/x/app' and '/x/app2' on one backend cannot reach each other's keys", async () => {
    const space = testKeyspace("tenants");
    await using both = await pair([`/${space}x/app`, `/${space}x/app2`]);
    const [a, b] = both;
    await b.provider.config.set("/config/secret", "b");
    // Without the segment boundary, '/x/app' + '2/config/secret' is b's key.
    const climb = "2/config/secret";
    assert.throws(() => a.provider.config.watch(climb), /must start with '\/'/);
    assert.throws(() => a.provider.config.watchPrefix("2/"), /must start with '\/'/);
    for (
      const call of [
        () => a.provider.config.get(climb),
        () => a.provider.config.getWithVersion(climb),
        () => a.provider.config.set(climb, "a"),
        () => a.provider.config.compareAndSet(climb, "a", 0),
        () => a.provider.config.delete(climb),
        () => a.provider.config.list("2/"),
        () => a.provider.config.manager(climb, { default: "" }),
      ]
    ) {
      await assert.rejects(
        call(),
        (error: Error) => error instanceof TypeError && /must start with '\/'/.test(error.message),
      );
    }
    // The prefixed driver is the boundary itself, for code that uses it without the provider.
    const tenant = coord.prefixedDriver(await options.makeDriver(), `/${space}x/app`);
    try {
      for (
        const call of [
          () => tenant.get(climb),
          () => tenant.list("2/"),
          () => tenant.put(climb, '"a"'),
          () => tenant.delete(climb),
          () => tenant.txn([], [{ type: "get", key: climb }], []),
          () => tenant.txn([], [{ type: "oldest", prefix: "2/" }], []),
          async () => {
            for await (
              const _ of tenant.watch({ key: "2/", prefix: true }, 1, AbortSignal.abort())
            ) {
              // nothing may arrive
            }
          },
        ]
      ) {
        await assert.rejects(call(), TypeError);
      }
    } finally {
      await tenant.close();
    }
    // Keys are opaque: '..' is a name inside a's space, not a way out of it.
    await a.provider.config.set("/../app2/config/secret", "a");
    assert.deepEqual(await a.provider.config.list("/"), [
      { key: "/../app2/config/secret", value: "a" },
    ]);
    assert.deepEqual(await b.provider.config.list("/"), [{ key: "/config/secret", value: "b" }]);
    assert.equal(await a.provider.config.delete("/config/secret"), false);
    assert.equal(await b.provider.config.get("/config/secret"), "b", "untouched by a");
    await a.provider.registry.register({ id: "a1", name: "svc", address: "h", port: 1 });
    assert.deepEqual(await b.provider.registry.discover("svc"), []);
    await using lockA = await a.provider.lock.acquire("job");
    const lockB = await b.provider.lock.tryAcquire("job");
    assert.ok(lockA && lockB, "one lock name per tenant");
    await lockB.unlock();
    // The prefix's own trailing '/' does not open a gap either: '/x/app/' is the tenant '/x/app'.
    const same = await provider(`/${space}x/app/`);
    try {
      assert.equal(await same.provider.config.get("/../app2/config/secret"), "a");
    } finally {
      await same.provider.close();
    }
  });

  test("a held lock 'a/b' does not block the lock 'a', nor a leader of 'e/f' lead 'e'", async () => {
    await using both = await pair();
    const [a, b] = both;
    const space = testKeyspace("nested names");
    const inner = await a.provider.lock.acquire(`${space}a/b`);
    const outer = await b.provider.lock.tryAcquire(`${space}a`);
    assert.ok(outer, "'a' is free while 'a/b' is held");
    await outer.unlock();
    await using waited = await b.provider.lock.acquire(`${space}a`, {
      signal: AbortSignal.timeout(ttlMs * 3 + 2000),
    });
    assert.ok(waited.token > 0);
    assert.equal(await b.provider.lock.tryAcquire(`${space}a/b`), null, "'a/b' is still held");
    await inner.unlock();
    const leadership = await a.provider.election<string>(`${space}e/f`).campaign("inner");
    assert.equal(await b.provider.election<string>(`${space}e`).leader(), undefined);
    const outerLeadership = await b.provider.election<string>(`${space}e`).campaign("outer", {
      signal: AbortSignal.timeout(ttlMs * 3 + 2000),
    });
    assert.equal((await a.provider.election<string>(`${space}e`).leader())?.value, "outer");
    assert.equal((await b.provider.election<string>(`${space}e/f`).leader())?.value, "inner");
    await outerLeadership.resign();
    await leadership.resign();
  });

  test("a lease TTL longer than a timer can wait (2^31-1 ms) is refused; the longest allowed holds", async () => {
    await using both = await pair();
    const { provider, driver } = both[0];
    const space = testKeyspace("long ttl");
    const service = space.replaceAll("/", "-");
    const tooLong = 3e9; // setTimeout would fire at once, and the lease would count as lost
    const refused = (error: Error) =>
      error instanceof RangeError && /'ttlMs' must be at most \d+ ms/.test(error.message) &&
      error.message.includes(String(tooLong));
    const long = { ttlMs: tooLong };
    await assert.rejects(provider.lock.acquire(`${space}lock`, long), refused);
    await assert.rejects(provider.lock.tryAcquire(`${space}lock`, long), refused);
    await assert.rejects(
      provider.registry.register({ id: "i1", name: service, address: "h", port: 1 }, long),
      refused,
    );
    await assert.rejects(provider.election(`${space}election`).campaign("a", long), refused);
    await assert.rejects(provider.instanceIds.allocate(service, 1, long), refused);
    for (const field of ["leaseTtlMs", "lockTtlMs"] as const) {
      await assert.rejects(
        coord.create({ ...coord.defaultConfig("development"), [field]: tooLong }, {
          driver: await options.makeDriver(),
        }),
        (error: Error) =>
          error instanceof RangeError &&
          new RegExp(`'${field}' must be at most \\d+ ms`).test(error.message),
      );
    }
    const longest = Math.floor((2 ** 31 - 1) / driver.leaseTtlGranularityMs) *
      driver.leaseTtlGranularityMs;
    const lock = await provider.lock.acquire(`${space}lock`, { ttlMs: longest });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(lock.lost.aborted, false, "a lock with the longest TTL is still held");
    assert.ok((await lock.ttl()) > 0);
    await lock.unlock();
  });

  test("bad input gets a clear error naming the problem", async () => {
    await using both = await pair();
    const { provider, driver } = both[0];
    await assert.rejects(provider.config.set("", 1), /'key' must be a non-empty string/);
    await assert.rejects(provider.config.set("k", 1), /'key' must start with '\/'/);
    for (const key of ["/lone\ud800", "/lone\udc00"]) {
      await assert.rejects(provider.config.set(key, 1), /'key' must be well-formed Unicode/);
      await assert.rejects(
        provider.lock.acquire(key.slice(1)),
        /'key' must be well-formed Unicode/,
      );
    }
    await assert.rejects(
      provider.config.set("/k", undefined),
      /Cannot store config key '\/k' as JSON: value is a undefined/,
    );
    await assert.rejects(provider.config.set("/k", { n: 1n }), /value\.n is a bigint/);
    await assert.rejects(provider.config.set("/k", { n: NaN }), /value\.n is NaN/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(provider.config.set("/k", cyclic), /cycle/);
    await assert.rejects(provider.lock.acquire(""), /'key' must be a non-empty string/);
    if (driver.minLeaseTtlMs > 1) {
      await assert.rejects(
        provider.lock.acquire("k", { ttlMs: driver.minLeaseTtlMs - 1 }),
        (e: Error) => e instanceof RangeError && /'ttlMs' must be at least/.test(e.message),
      );
    }
    await assert.rejects(
      provider.registry.register({ id: "x", name: "a/b", address: "h", port: 1 }),
      /'name' must not contain '\/'/,
    );
    await assert.rejects(
      provider.registry.register({ id: "x", name: "s", address: "h", port: 70000 }),
      /'port'/,
    );
    // Two registers of one id at once: the second is refused while the first is still in flight.
    const twice = {
      id: "twice",
      name: testKeyspace("twice").replaceAll("/", "-"),
      address: "h",
      port: 1,
    };
    const [first, second] = await Promise.allSettled([
      provider.registry.register(twice),
      provider.registry.register(twice),
    ]);
    assert.equal(first.status, "fulfilled");
    assert.ok(
      second.status === "rejected" && /'twice' is already registered/.test(second.reason.message),
    );
    if (first.status === "fulfilled") await first.value.unregister();
    await assert.rejects(
      provider.instanceIds.allocate("s", 0),
      /'maxId' must be a positive integer/,
    );
    assert.throws(() => coord.configKey("prod", "a/b", "c"), /'service' must not contain '\/'/);
  });
}
