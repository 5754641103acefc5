/**
 * A throwaway Sentinel-managed Redis on free loopback ports: a primary, its replicas and the
 * sentinels that watch it, for the Redis drivers' Sentinel tests and fault tests that kill the
 * primary mid-run.
 *
 * @module
 */
import {
  cli,
  RedisProcesses,
  replicasCaughtUp,
  type ThrowawayRedisProcesses,
} from "./redis_processes.ts";
import { freePort } from "./server.ts";

/** Options of {@linkcode startRedisSentinel}. */
export interface StartRedisSentinelOptions {
  /**
   * Replicas of the primary, one of which is promoted when it fails.
   * @default {1}
   */
  readonly replicas?: number;
  /**
   * Sentinels watching the primary; a majority of them must agree that it is down.
   * @default {3}
   */
  readonly sentinels?: number;
  /**
   * The name the sentinels know the primary by (`sentinel monitor <name> …`).
   * @default {"kit-primary"}
   */
  readonly masterName?: string;
  /**
   * How long the primary may not answer before the sentinels fail it over
   * (`down-after-milliseconds`).
   * @default {1000}
   */
  readonly downAfterMs?: number;
  /**
   * How long to wait for the servers to answer and the sentinels to see every replica.
   * @default {30000}
   */
  readonly readyTimeoutMs?: number;
}

/** One server's address. */
export interface RedisSentinelNodeAddress {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The server's loopback port; kept across restarts. */
  readonly port: number;
}

/** A running throwaway Sentinel-managed Redis that owns its data directory. */
export interface ThrowawayRedisSentinel extends ThrowawayRedisProcesses {
  /** The sentinels, for the drivers' `sentinels` option. */
  readonly sentinels: readonly RedisSentinelNodeAddress[];
  /** The primary's name, for the drivers' `masterName` option. */
  readonly masterName: string;
  /** The data servers' ports: the first primary, then the replicas, as started. */
  readonly servers: readonly number[];
  /** The port of the primary now, as a majority of the running sentinels report it. */
  primary(): Promise<number>;
  /**
   * Starts the server or sentinel on `port` again with its own config (a sentinel rewrites its
   * config, so it learns of failovers; an old primary is turned into a replica by the
   * sentinels); resolves when it answers.
   */
  start(port: number): Promise<void>;
  /**
   * Resolves once a majority of the running sentinels agree on a primary that answers as one,
   * and every running data server other than it is its replica, linked and having acknowledged
   * all the primary wrote (so a primary killed next has a replica to promote, with its writes).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a primary with `replicas` replicas and `sentinels` sentinels (quorum: a majority) on
 * free loopback ports, and resolves once the sentinels see every replica in sync.
 *
 * @param options Size, failure detection and readiness timeout.
 * @returns The running topology.
 * @throws {Error} When `redis-server` is missing or the topology is not healthy in time.
 *
 * @example Kill the primary; a replica is promoted
 * ```ts ignore
 * import { startRedisSentinel } from "./redis_sentinel.ts";
 *
 * await using redis = await startRedisSentinel();
 * await redis.kill(await redis.primary());
 * await redis.waitHealthy();
 * ```
 */
export async function startRedisSentinel(
  options: StartRedisSentinelOptions = {},
): Promise<ThrowawayRedisSentinel> {
  const {
    replicas = 1,
    sentinels = 3,
    masterName = "kit-primary",
    downAfterMs = 1000,
    readyTimeoutMs = 30_000,
  } = options;
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new RangeError(
      `Cannot start Redis Sentinel as 'replicas' must be a positive integer: current value is ${replicas}`,
    );
  }
  if (!Number.isSafeInteger(sentinels) || sentinels < 1) {
    throw new RangeError(
      `Cannot start Redis Sentinel as 'sentinels' must be a positive integer: current value is ${sentinels}`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "kit-redis-sentinel-" });
  const processes = new RedisProcesses(dir, readyTimeoutMs);
  const servers: number[] = [];
  for (let i = 0; i <= replicas; i++) servers.push(await freePort());
  const sentinelPorts: number[] = [];
  for (let i = 0; i < sentinels; i++) sentinelPorts.push(await freePort());
  const quorum = Math.floor(sentinels / 2) + 1;

  const spawn = async (port: number): Promise<void> => {
    const config = `${dir}/${port}.conf`;
    if (sentinelPorts.includes(port)) {
      // A sentinel's config is its state: written once, rewritten by the sentinel itself.
      await Deno.stat(config).catch(() =>
        Deno.writeTextFile(
          config,
          [
            `port ${port}`,
            "bind 127.0.0.1",
            `dir ${dir}`,
            `sentinel monitor ${masterName} 127.0.0.1 ${servers[0]} ${quorum}`,
            `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
            `sentinel failover-timeout ${masterName} ${Math.max(3 * downAfterMs, 3000)}`,
            `sentinel parallel-syncs ${masterName} 1`,
            "",
          ].join("\n"),
        )
      );
      return await processes.spawn(port, [config, "--sentinel"]);
    }
    // The first server starts as the primary, the others as its replicas; a server started
    // again (a killed primary included) as a replica of the primary the sentinels report now.
    const primary = started.has(port) ? await redis.primary() : servers[0];
    started.add(port);
    await processes.spawn(port, [
      ...processes.serverArgs(port),
      ...(port === primary ? [] : ["--replicaof", "127.0.0.1", `${primary}`]),
    ]);
  };
  const started = new Set<number>();

  const info = async (port: number) => await cli(port, "INFO", "replication") ?? "";

  const redis: ThrowawayRedisSentinel = {
    ...processes.control(),
    sentinels: sentinelPorts.map((port) => ({ host: "127.0.0.1", port })),
    masterName,
    servers,
    async primary() {
      const votes = new Map<number, number>();
      for (const port of sentinelPorts.filter((port) => processes.has(port))) {
        const reply = await cli(port, "SENTINEL", "get-master-addr-by-name", masterName);
        const primary = Number(reply?.split("\n")[1]);
        if (Number.isSafeInteger(primary)) votes.set(primary, (votes.get(primary) ?? 0) + 1);
      }
      const [primary, count] = [...votes].sort((a, b) => b[1] - a[1])[0] ?? [];
      if (primary === undefined || count < quorum) {
        throw new Error(
          `No majority of sentinels agrees on a primary: ${JSON.stringify([...votes])}`,
        );
      }
      return primary;
    },
    start(port) {
      if (!servers.includes(port) && !sentinelPorts.includes(port)) {
        return Promise.reject(new RangeError(`No server or sentinel has port ${port}`));
      }
      return processes.has(port) ? Promise.resolve() : spawn(port);
    },
    async waitHealthy(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let state = "";
      for (;;) {
        try {
          const primary = await redis.primary();
          const primaryInfo = await info(primary);
          const running = servers.filter((port) => port !== primary && processes.has(port));
          const replicaInfos = await Promise.all(running.map(info));
          state = `primary ${primary}: ${primaryInfo}\n${replicaInfos.join("\n")}`;
          if (
            /role:master/.test(primaryInfo) &&
            new RegExp(`connected_slaves:${running.length}\\b`).test(primaryInfo) &&
            replicasCaughtUp(primaryInfo) &&
            replicaInfos.every((replica) =>
              /role:slave/.test(replica) && /master_link_status:up/.test(replica) &&
              replica.includes(`master_port:${primary}`)
            )
          ) return;
        } catch (error) {
          state = String(error);
        }
        if (Date.now() > deadline) {
          throw new Error(`Throwaway Redis Sentinel is not healthy:\n${state}`);
        }
        await delay(100);
      }
    },
  };

  try {
    for (const port of servers) await spawn(port);
    await Promise.all(sentinelPorts.map(spawn));
    await redis.waitHealthy();
  } catch (error) {
    await redis.close();
    throw error;
  }
  return redis;
}
