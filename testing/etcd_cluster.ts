/**
 * A throwaway etcd cluster of several members on free loopback ports, for fault tests that kill
 * the leader mid-run and start it again. Built on {@linkcode startServer}'s conventions: each
 * member runs as its own pid (no shell in between), logs to a file in the cluster's temporary
 * directory, and is probed on `/health` until it answers.
 *
 * @example Kill the leader and start it again
 * ```ts ignore
 * import { startEtcdCluster } from "./etcd_cluster.ts";
 *
 * await using cluster = await startEtcdCluster(3);
 * const leader = await cluster.leader();
 * await cluster.kill(leader);   // SIGKILL to its own pid; the others elect a new leader
 * await cluster.start(leader);  // same ports and data directory, rejoins the cluster
 * ```
 *
 * @module
 */
import { etcdHealthy, freePort, spawnLogged, which } from "./server.ts";

/** One member of a {@linkcode EtcdCluster}. */
export interface EtcdMember {
  /** The member's name (`m0`, `m1`, …). */
  readonly name: string;
  /** Its client URL, `http://127.0.0.1:…`. */
  readonly clientUrl: string;
  /** Its peer URL, `http://127.0.0.1:…`. */
  readonly peerUrl: string;
  /** Pid of its etcd process while it runs. */
  readonly pid: number | undefined;
  /** Whether its process is running. */
  readonly running: boolean;
}

/** A running throwaway etcd cluster that owns its data directories. */
export interface EtcdCluster extends AsyncDisposable {
  /** Every member's client URL, in member order: what a client is given. */
  readonly endpoints: string[];
  /** The members. */
  readonly members: readonly EtcdMember[];
  /** The temporary directory of the members' data and logs, deleted by `close()`. */
  readonly dir: string;
  /**
   * The name of the member that leads, as the running members see it (their status's
   * `header.member_id` equal to its `leader`); polls until one does.
   *
   * @throws {Error} When no running member reports a leader in time.
   */
  leader(options?: { timeoutMs?: number }): Promise<string>;
  /** Sends `signal` (SIGKILL by default) to the member's own pid and waits for it to exit. */
  kill(name: string, signal?: Deno.Signal): Promise<void>;
  /** Starts a stopped member again on its ports and data directory; resolves when it answers. */
  start(name: string): Promise<void>;
  /** A member's log so far, for a failing test's message. */
  log(name: string): Promise<string>;
  /** Kills every member and deletes the cluster's directory. */
  close(): Promise<void>;
}

/** Options of {@linkcode startEtcdCluster}. */
export interface StartEtcdClusterOptions {
  /**
   * How long to wait for the cluster (or a restarted member) to answer and elect a leader.
   * @default {20000}
   */
  readonly readyTimeoutMs?: number;
  /**
   * Raft heartbeat interval in ms.
   * @default {100}
   */
  readonly heartbeatMs?: number;
  /**
   * Raft election timeout in ms: a lost leader is replaced in about this long.
   * @default {1000}
   */
  readonly electionTimeoutMs?: number;
}

interface MemberState {
  name: string;
  clientPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logPath: string;
  child?: Deno.ChildProcess;
  exited?: Promise<Deno.CommandStatus>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One member's `/v3/maintenance/status` (gRPC gateway), or undefined when it does not answer. */
async function memberStatus(
  clientUrl: string,
): Promise<{ memberId: string; leader: string } | undefined> {
  try {
    const response = await fetch(`${clientUrl}/v3/maintenance/status`, {
      method: "POST",
      body: "{}",
      signal: AbortSignal.timeout(1000),
    });
    if (!response.ok) {
      await response.body?.cancel();
      return undefined;
    }
    const status = await response.json() as { header?: { member_id?: string }; leader?: string };
    const memberId = status.header?.member_id;
    const leader = status.leader;
    return memberId && leader && leader !== "0" ? { memberId, leader } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a throwaway etcd cluster of `members` members on free loopback ports, with data in a
 * fresh temporary directory and a cluster token of its own, and resolves once every member
 * answers and they agree on a leader.
 *
 * @param members How many members (3 by default).
 * @param options Readiness timeout and Raft timing.
 * @returns The running cluster.
 * @throws {Error} When etcd is missing or the cluster does not come up in time (with its logs).
 */
export async function startEtcdCluster(
  members = 3,
  options: StartEtcdClusterOptions = {},
): Promise<EtcdCluster> {
  const binary = which("etcd");
  if (binary === undefined) {
    throw new Error("Cannot start a throwaway etcd cluster as 'etcd' is not installed");
  }
  const { readyTimeoutMs = 20_000, heartbeatMs = 100, electionTimeoutMs = 1000 } = options;
  const dir = await Deno.makeTempDir({ prefix: "kit-etcd-cluster-" });
  const token = `kit-${crypto.randomUUID()}`;
  const states: MemberState[] = [];
  const taken = new Set<number>();
  const port = async () => {
    for (;;) {
      const candidate = await freePort();
      if (!taken.has(candidate)) return taken.add(candidate), candidate;
    }
  };
  for (let i = 0; i < members; i++) {
    const clientPort = await port();
    const peerPort = await port();
    states.push({
      name: `m${i}`,
      clientPort,
      clientUrl: `http://127.0.0.1:${clientPort}`,
      peerUrl: `http://127.0.0.1:${peerPort}`,
      dataDir: `${dir}/m${i}`,
      logPath: `${dir}/m${i}.log`,
    });
  }
  const initialCluster = states.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const byName = (name: string): MemberState => {
    const member = states.find((m) => m.name === name);
    if (!member) throw new RangeError(`No member '${name}' in the etcd cluster`);
    return member;
  };

  const spawn = async (member: MemberState, state: "new" | "existing") => {
    await Deno.writeTextFile(member.logPath, "", { append: true });
    member.child = spawnLogged([
      binary,
      `--name=${member.name}`,
      `--data-dir=${member.dataDir}`,
      `--listen-client-urls=${member.clientUrl}`,
      `--advertise-client-urls=${member.clientUrl}`,
      `--listen-peer-urls=${member.peerUrl}`,
      `--initial-advertise-peer-urls=${member.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      `--initial-cluster-state=${state}`,
      `--heartbeat-interval=${heartbeatMs}`,
      `--election-timeout=${electionTimeoutMs}`,
      "--logger=zap",
      "--log-level=warn",
    ], member.logPath);
    const child = member.child;
    member.exited = child.status;
    // A member that exits on its own (a crash) is no longer running.
    member.exited.then(() => {
      if (member.child === child) member.child = undefined;
    });
  };

  const waitForExit = async (member: MemberState) => {
    if (member.exited !== undefined) await member.exited;
    member.child = undefined;
    member.exited = undefined;
  };

  const killMember = async (member: MemberState, signal: Deno.Signal = "SIGKILL") => {
    if (member.child === undefined) return;
    try {
      Deno.kill(member.child.pid, signal);
    } catch {
      // already gone; waitForExit collects its status
    }
    await waitForExit(member);
  };

  const logs = async () =>
    (await Promise.all(
      states.map(async (m) =>
        `--- ${m.name} ---\n${await Deno.readTextFile(m.logPath).catch(() => "")}`
      ),
    )).join("\n");

  /** Waits until `targets` answer /health (which needs a leader) or the deadline passes. */
  const waitHealthy = async (targets: MemberState[]) => {
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      const crashed = targets.filter((m) => m.child === undefined);
      const healthy = await Promise.all(targets.map((m) => etcdHealthy(m.clientPort)));
      if (healthy.every(Boolean)) return;
      if (crashed.length > 0 || Date.now() > deadline) {
        throw new Error(
          `Throwaway etcd cluster did not become ready (${
            crashed.length ? "a member exited" : "timeout"
          }):\n${await logs()}`,
        );
      }
      await sleep(50);
    }
  };

  const leader = async ({ timeoutMs = readyTimeoutMs } = {}): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = states.filter((m) => m.child !== undefined);
      const statuses = await Promise.all(running.map((m) => memberStatus(m.clientUrl)));
      const leaders = new Set(statuses.map((s) => s?.leader));
      if (leaders.size === 1 && !leaders.has(undefined)) {
        const index = statuses.findIndex((s) => s!.memberId === s!.leader);
        if (index >= 0) return running[index].name;
      }
      if (Date.now() > deadline) {
        throw new Error(`No etcd member reports a leader within ${timeoutMs} ms`);
      }
      await sleep(50);
    }
  };

  const cluster: EtcdCluster = {
    endpoints: states.map((m) => m.clientUrl),
    dir,
    members: states.map((m) => ({
      name: m.name,
      clientUrl: m.clientUrl,
      peerUrl: m.peerUrl,
      get pid() {
        return m.child?.pid;
      },
      get running() {
        return m.child !== undefined;
      },
    })),
    leader,
    kill: (name, signal) => killMember(byName(name), signal),
    async start(name) {
      const member = byName(name);
      if (member.child !== undefined) return;
      await spawn(member, "existing");
      await waitHealthy([member]);
    },
    log: (name) => Deno.readTextFile(byName(name).logPath).catch(() => ""),
    async close() {
      await Promise.all(states.map((m) => killMember(m)));
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return cluster.close();
    },
  };

  try {
    await Promise.all(states.map((m) => spawn(m, "new")));
    await waitHealthy(states);
    await leader();
  } catch (error) {
    await cluster.close();
    throw error;
  }
  return cluster;
}
