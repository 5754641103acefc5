/**
 * A throwaway Redis Cluster on free loopback ports, for the Redis drivers' cluster tests and
 * fault tests that kill a master mid-run.
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

/** Options of {@linkcode startRedisCluster}. */
export interface StartRedisClusterOptions {
  /**
   * Masters, sharing the 16384 slots.
   * @default {3}
   */
  readonly masters?: number;
  /**
   * Replicas of each master, promoted when it fails.
   * @default {1}
   */
  readonly replicasPerMaster?: number;
  /**
   * How long a node may not answer before the others fail it over (`cluster-node-timeout`).
   * @default {1000}
   */
  readonly nodeTimeoutMs?: number;
  /**
   * How long to wait for the cluster to be formed, or a node to answer after `start`.
   * @default {30000}
   */
  readonly readyTimeoutMs?: number;
}

/** One node's address. */
export interface RedisClusterNodeAddress {
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The node's loopback port; kept across restarts. */
  readonly port: number;
}

/** A running throwaway Redis Cluster that owns its data directory. */
export interface ThrowawayRedisCluster extends ThrowawayRedisProcesses {
  /** Every node, masters and replicas, as formed. */
  readonly nodes: readonly RedisClusterNodeAddress[];
  /** `redis://127.0.0.1:port` of every node. */
  readonly urls: readonly string[];
  /** The ports of the nodes that are masters now (asks the cluster). */
  masters(): Promise<number[]>;
  /** Starts the node on `port` again with its own config; resolves when it answers. */
  start(port: number): Promise<void>;
  /**
   * Resolves once every running node reports `cluster_state:ok`, every running replica's link is
   * up and every master's replicas have acknowledged all it wrote (so a master killed next has
   * a replica that can take over, with its writes).
   */
  waitHealthy(timeoutMs?: number): Promise<void>;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts a Redis Cluster of `masters` masters with `replicasPerMaster` replicas each on free
 * loopback ports (`redis-server --cluster-enabled yes`, joined with `redis-cli --cluster create`)
 * and resolves once every node reports `cluster_state:ok`.
 *
 * @param options Size, node timeout and readiness timeout.
 * @returns The running cluster.
 * @throws {Error} When `redis-server` is missing or the cluster does not form in time.
 *
 * @example Kill a master; its replica takes over
 * ```ts ignore
 * import { startRedisCluster } from "./redis_cluster.ts";
 *
 * await using cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
 * const [master] = await cluster.masters();
 * await cluster.kill(master);
 * await cluster.waitHealthy();
 * ```
 */
export async function startRedisCluster(
  options: StartRedisClusterOptions = {},
): Promise<ThrowawayRedisCluster> {
  const {
    masters = 3,
    replicasPerMaster = 1,
    nodeTimeoutMs = 1000,
    readyTimeoutMs = 30_000,
  } = options;
  if (!Number.isSafeInteger(masters) || masters < 3) {
    throw new RangeError(
      `Cannot start Redis Cluster as 'masters' must be an integer of at least 3: current value is ${masters}`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "kit-redis-cluster-" });
  const ports: number[] = [];
  for (let i = 0; i < masters * (1 + replicasPerMaster); i++) ports.push(await freePort());
  const processes = new RedisProcesses(dir, readyTimeoutMs);
  const spawn = async (port: number): Promise<void> => {
    await processes.spawn(port, [
      ...processes.serverArgs(port),
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `${dir}/${port}/nodes.conf`,
      "--cluster-node-timeout",
      String(nodeTimeoutMs),
      // A replica takes over however long ago it last heard from its master.
      "--cluster-replica-validity-factor",
      "0",
    ]);
  };

  const cluster: ThrowawayRedisCluster = {
    ...processes.control(),
    nodes: ports.map((port) => ({ host: "127.0.0.1", port })),
    urls: ports.map((port) => `redis://127.0.0.1:${port}`),
    async masters() {
      for (const port of processes.running) {
        const nodes = await cli(port, "CLUSTER", "NODES");
        if (nodes === undefined) continue;
        return nodes.split("\n")
          .filter((line) => {
            const flags = (line.split(" ")[2] ?? "").split(",");
            return flags.includes("master") && !flags.includes("fail") &&
              !flags.includes("fail?");
          })
          .map((line) => Number(line.split(" ")[1].split("@")[0].split(":").at(-1)));
      }
      return [];
    },
    start(port) {
      if (!ports.includes(port)) {
        return Promise.reject(new RangeError(`No node of this cluster has port ${port}`));
      }
      return processes.has(port) ? Promise.resolve() : spawn(port);
    },
    async waitHealthy(timeoutMs = readyTimeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const infos = await Promise.all(
          processes.running.map(async (port) =>
            `${await cli(port, "CLUSTER", "INFO")}${await cli(port, "INFO", "replication")}`
          ),
        );
        if (
          infos.every((info) =>
            /cluster_state:ok/.test(info) &&
            (/role:master/.test(info) ? replicasCaughtUp(info) : /master_link_status:up/.test(info))
          )
        ) return;
        if (Date.now() > deadline) {
          throw new Error(`Throwaway Redis Cluster is not ok:\n${infos.join("\n")}`);
        }
        await delay(100);
      }
    },
  };

  try {
    await Promise.all(ports.map(spawn));
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...ports.map((port) => `127.0.0.1:${port}`),
        "--cluster-replicas",
        String(replicasPerMaster),
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (create.code !== 0) {
      throw new Error(
        `redis-cli --cluster create failed:\n${new TextDecoder().decode(create.stdout)}${
          new TextDecoder().decode(create.stderr)
        }`,
      );
    }
    await cluster.waitHealthy();
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}
