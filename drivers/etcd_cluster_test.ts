/**
 * coord's etcd driver on a 3-member etcd cluster: the conformance suite with the client given
 * every member, and a fault test that SIGKILLs the Raft leader mid-run.
 */
import assert from "node:assert/strict";
import { coordConformance } from "../coord/conformance.ts";
import * as coord from "../coord/mod.ts";
import { type EtcdCluster, startEtcdCluster } from "../testing/etcd_cluster.ts";
import { eventually } from "../testing/eventually.ts";
import { capturingLogger } from "../testing/logger.ts";
import { serverAvailable } from "../testing/server.ts";
import { etcdCoord } from "./etcd.ts";

const available = serverAvailable("etcd");

// One cluster for the whole conformance suite, started outside any test so no case owns its
// processes; the last test of the file closes it, and an unload handler kills what is left when a
// filter skipped that test.
const shared: EtcdCluster | undefined = available ? await startEtcdCluster(3) : undefined;
globalThis.addEventListener("unload", () => {
  for (const member of shared?.members ?? []) {
    if (member.pid !== undefined) {
      try {
        Deno.kill(member.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  try {
    if (shared) Deno.removeSync(shared.dir, { recursive: true });
  } catch {
    // removed by the test that closed the cluster
  }
});

coordConformance({
  // Reads `[etcd] [3 members] coord: …`: an etcd suite to .ci/run, told apart from etcd_test.ts's.
  name: "etcd] [3 members",
  makeDriver: () => etcdCoord({ endpoints: shared?.endpoints ?? [] }),
  // Closing the client without revoking anything is what a crashed process looks like to etcd.
  sever: (driver) => driver.close(),
  ttlMs: 2000,
  ignore: !available,
});

async function clusterProvider(endpoints: string[]) {
  const { logger, logs } = capturingLogger();
  const provider = await coord.create(
    { ...coord.defaultConfig("production"), leaseTtlMs: 2000, lockTtlMs: 2000 },
    { driver: etcdCoord({ endpoints, requestTimeoutMs: 1000 }), logger },
  );
  return { provider, logs };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `error` is one the kit promises: a DriverError or one of its own LostErrors. */
function kitError(error: unknown): boolean {
  return error instanceof coord.DriverError || error instanceof coord.LostError;
}

Deno.test({
  name:
    "[etcd] fault: the leader of a 3-member cluster SIGKILLed mid-run — acknowledged writes survive, reads stay linearizable, the watch resumes, holdings stay consistent",
  ignore: !available,
  async fn() {
    await using cluster = await startEtcdCluster(3);
    const a = await clusterProvider(cluster.endpoints);
    const b = await clusterProvider(cluster.endpoints);
    const stop = new AbortController(); // the writer and the reader
    const stopWatch = new AbortController();
    try {
      const base = "/config/test/cluster";
      const key = `${base}/value`;
      const service = "cluster-svc";
      const registration = await a.provider.registry.register({
        id: "a1",
        name: service,
        address: "h",
        port: 1,
      });
      const lock = await a.provider.lock.acquire("cluster-lock");
      // A lease long enough to outlast an election plus the client's failover to another member.
      const longLock = await a.provider.lock.acquire("cluster-lock-long", { ttlMs: 6000 });
      const gateway = await a.provider.presence.join("gw-cluster");
      await gateway.add("ann");
      const idBefore = await a.provider.instanceIds.allocate("cluster-ids", 8);

      await b.provider.config.set(key, 0);
      const seen: number[] = [];
      const watching = (async () => {
        for await (
          const event of a.provider.config.watch<number>(key, { signal: stopWatch.signal })
        ) {
          if (event.type === "put") seen.push(event.value);
        }
      })();
      await eventually(() => assert.deepEqual(seen, [0]));

      // The writer (provider a) writes i to its own key and to `value`, one at a time; the reader
      // (provider b) reads back the newest acknowledged i and `value`, linearizably.
      let acked = 0; // the highest i whose writes were both acknowledged
      const ackedSet = new Set<number>();
      let operations = 0;
      const errors: unknown[] = [];
      const stale: string[] = [];
      const fault: { killedAt?: number } = {};
      let firstWriteAfterKillMs: number | undefined;
      let reads = 0;

      const writer = (async () => {
        for (let i = 1; !stop.signal.aborted; i++) {
          const startedAt = Date.now();
          try {
            operations++;
            await a.provider.config.set(`${base}/seq/${i}`, i);
            operations++;
            await a.provider.config.set(key, i);
            acked = i;
            ackedSet.add(i);
            if (
              fault.killedAt !== undefined && firstWriteAfterKillMs === undefined &&
              startedAt >= fault.killedAt
            ) {
              firstWriteAfterKillMs = Date.now() - fault.killedAt;
            }
          } catch (error) {
            errors.push(error);
            await sleep(20);
          }
        }
      })();
      const reader = (async () => {
        let last = 0;
        while (!stop.signal.aborted) {
          const floor = acked; // acknowledged before this read is issued
          try {
            operations++;
            const value = await b.provider.config.get<number>(key);
            operations++;
            const own = floor === 0
              ? 0
              : await b.provider.config.get<number>(`${base}/seq/${floor}`);
            reads++;
            if (value === undefined || value < floor) {
              stale.push(`value ${value} read after ${floor} was acknowledged`);
            }
            if (value !== undefined && value < last) {
              stale.push(`value ${value} read after ${last} was read`);
            }
            if (own !== floor) stale.push(`seq/${floor} read as ${own}`);
            last = Math.max(last, value ?? 0);
          } catch (error) {
            errors.push(error);
            await sleep(20);
          }
        }
      })();

      await sleep(2000);
      const leader = await cluster.leader();
      const ackedBeforeKill = acked;
      const killedAt = fault.killedAt = Date.now();
      await cluster.kill(leader);
      const newLeader = await cluster.leader();
      const electedMs = Date.now() - killedAt;
      await eventually(() => assert.ok(firstWriteAfterKillMs !== undefined), {
        timeoutMs: 15_000,
      });
      await sleep(2000);
      await cluster.start(leader);
      await sleep(2000);
      stop.abort();
      await Promise.all([writer, reader]);
      // A write acknowledged just now reaches the watch a moment later.
      await eventually(() => assert.ok(seen.includes(acked)), { timeoutMs: 5000 }).catch(() => {});
      stopWatch.abort();
      await watching;

      // Every acknowledged write is there, read through the other provider.
      const stored = new Map(
        (await b.provider.config.list<number>(`${base}/seq/`)).map((entry) => [
          entry.value,
          entry.key,
        ]),
      );
      const lost = [...ackedSet].filter((i) => !stored.has(i));
      const finalValue = await b.provider.config.get<number>(key);
      assert.ok(finalValue !== undefined && finalValue >= acked, `final ${finalValue} < ${acked}`);

      // The watch saw every acknowledged value, in order, none twice.
      const missed = [...ackedSet].filter((i) => !seen.includes(i));
      const duplicated = seen.length - new Set(seen).size;
      const outOfOrder = seen.filter((value, i) => i > 0 && value <= seen[i - 1]).length;

      // Holdings after the failover: a lock is either still held, and then no one else gets it, or
      // reported lost, and then another provider gets it with a larger fencing token.
      const lockOutcome = async (name: string, held: coord.Lock) => {
        if (!held.lost.aborted) {
          assert.equal(
            await b.provider.lock.tryAcquire(name),
            null,
            `lock '${name}' still held cannot be taken by another provider`,
          );
          return { lost: false, token: held.token };
        }
        assert.ok(held.lost.reason instanceof coord.LockLostError);
        await using again = await b.provider.lock.acquire(name, {
          signal: AbortSignal.timeout(15_000),
        });
        assert.ok(again.token > held.token, "a later holder has a larger fencing token");
        const cause = (held.lost.reason as Error).cause as Error | undefined;
        return {
          lost: true,
          why: cause?.message ?? String(held.lost.reason),
          token: held.token,
          nextHolderToken: again.token,
        };
      };
      const lockResult = await lockOutcome("cluster-lock", lock);
      const longLockResult = await lockOutcome("cluster-lock-long", longLock);
      await eventually(
        async () =>
          assert.deepEqual((await b.provider.registry.discover(service)).map((s) => s.id), ["a1"]),
        { timeoutMs: 15_000 },
      );
      await eventually(
        async () => assert.deepEqual(await b.provider.presence.locate("ann"), ["gw-cluster"]),
        { timeoutMs: 15_000 },
      );

      // Instance ids: none handed out twice while held.
      const idsAfter: coord.InstanceId[] = [];
      for (let i = 0; i < 3; i++) {
        idsAfter.push(await b.provider.instanceIds.allocate("cluster-ids", 8));
      }
      const held = [idBefore, ...idsAfter].filter((instance) => !instance.lost.aborted);
      const idDuplicates = held.length - new Set(held.map((instance) => instance.id)).size;
      await Promise.all(idsAfter.map((instance) => instance.release()));

      const foreign = errors.filter((error) => !kitError(error));
      console.log(
        JSON.stringify(
          {
            killed: leader,
            newLeader,
            electedMs,
            firstWriteAfterKillMs,
            operations,
            reads,
            ackedWrites: ackedSet.size,
            ackedBeforeKill,
            errors: errors.length,
            errorKinds: [
              ...new Set(
                errors.map((e) =>
                  `${(e as Error)?.constructor?.name}: ${(e as Error)?.message?.slice(0, 80)}`
                ),
              ),
            ].slice(0, 5),
            foreignErrors: foreign.length,
            staleReads: stale.length,
            lostWrites: lost.length,
            watchSeen: seen.length,
            watchMissed: missed.length,
            watchDuplicated: duplicated,
            watchOutOfOrder: outOfOrder,
            lock2s: lockResult,
            lock6s: longLockResult,
            registration: { status: registration.status, restored: registration.restored },
            presence: gateway.status,
            instanceIds: {
              before: idBefore.id,
              beforeLost: idBefore.lost.aborted,
              after: idsAfter.map((instance) => instance.id),
              duplicated: idDuplicates,
            },
          },
          null,
          2,
        ),
      );
      assert.equal(foreign.length, 0, `errors outside the kit's types: ${foreign.join("; ")}`);
      assert.deepEqual(stale, [], "no read returned a value older than an acknowledged write");
      assert.deepEqual(lost, [], "every acknowledged write survived");
      assert.deepEqual(missed, [], "the watch saw every acknowledged value");
      assert.equal(duplicated, 0, "the watch saw no value twice");
      assert.equal(outOfOrder, 0, "the watch saw values in order");
      assert.equal(idDuplicates, 0, "no instance id is held twice");
      assert.ok(firstWriteAfterKillMs !== undefined);
      await idBefore.release();
      if (!longLock.lost.aborted) await longLock.unlock();
    } finally {
      stop.abort();
      stopWatch.abort();
      await a.provider.close();
      await b.provider.close();
    }
  },
});

Deno.test({
  name: "[etcd] [3 members] the shared cluster stops",
  ignore: !available,
  async fn() {
    await shared?.close();
  },
});
