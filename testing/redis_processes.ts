/**
 * A set of throwaway `redis-server` processes on loopback ports sharing one temporary
 * directory: the nodes of a Redis Cluster, or a Sentinel-managed primary, its replicas and its
 * sentinels. Internal to testing/.
 *
 * @module
 */
import { spawnLogged } from "./server.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `redis-cli` against `port`; its stdout, or `undefined` when it fails. */
export async function cli(port: number, ...args: string[]): Promise<string | undefined> {
  const { code, stdout } = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdout: "piped",
    stderr: "null",
  }).output().catch(() => ({ code: 1, stdout: new Uint8Array() }));
  return code === 0 ? new TextDecoder().decode(stdout) : undefined;
}

/**
 * Whether every replica a master's `INFO replication` lists is online and has acknowledged all
 * the master has written. A replica that has just synced reports its link up (`role:slave`,
 * `master_link_status:up`) but may not have acknowledged anything yet; writes made then are
 * lost if the master dies, so a fault test must not kill it before this holds.
 */
export function replicasCaughtUp(masterInfo: string): boolean {
  const offset = /master_repl_offset:(\d+)/.exec(masterInfo)?.[1];
  const replicas = [...masterInfo.matchAll(/^slave\d+:(.*)$/gm)].map(([, fields]) => fields);
  return replicas.every((fields) =>
    /state=online/.test(fields) && /offset=(\d+)/.exec(fields)?.[1] === offset
  );
}

/** What every throwaway Redis topology (cluster, Sentinel) does with its processes. */
export interface ThrowawayRedisProcesses extends AsyncDisposable {
  /** Sends SIGKILL to the server (or sentinel) on `port` and waits for it to exit. */
  kill(port: number): Promise<void>;
  /** The log of the process on `port` so far, for a failing test's message. */
  log(port: number): Promise<string>;
  /** Kills every process and deletes the data directory. */
  close(): Promise<void>;
  /**
   * {@linkcode close} without waiting: SIGKILL to every process and the directory deleted at
   * once, for an `unload` listener, which cannot wait.
   */
  closeSync(): void;
}

/** The `redis-server` processes of one throwaway topology, each with a log in the directory. */
export class RedisProcesses {
  readonly #children = new Map<number, { child: Deno.ChildProcess; status: Promise<unknown> }>();

  /**
   * @param dir The topology's own temporary directory, deleted by {@linkcode close}.
   * @param readyTimeoutMs How long a started process may take to answer PING.
   */
  constructor(readonly dir: string, readonly readyTimeoutMs: number) {}

  /**
   * The arguments every data server here starts with: its loopback port, its own directory
   * (`dir/port`, which {@linkcode spawn} creates) and no persistence.
   */
  serverArgs(port: number): string[] {
    return [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      `${this.dir}/${port}`,
      "--save",
      "",
      "--appendonly",
      "no",
    ];
  }

  /** {@linkcode kill}, {@linkcode log}, {@linkcode close} and `closeSync` for a topology's object. */
  control(): ThrowawayRedisProcesses {
    return {
      kill: (port) => this.kill(port),
      log: (port) => this.log(port),
      close: () => this.close(),
      closeSync: () => this.closeSync(),
      [Symbol.asyncDispose]: () => this.close(),
    };
  }

  /** The ports of the processes running now. */
  get running(): number[] {
    return [...this.#children.keys()];
  }

  /** Whether the process on `port` is running. */
  has(port: number): boolean {
    return this.#children.has(port);
  }

  /**
   * Starts `redis-server …args` for `port` (the arguments name the port), its output appended
   * to `dir/port.log`; resolves when it answers PING.
   */
  async spawn(port: number, args: readonly string[]): Promise<void> {
    await Deno.mkdir(`${this.dir}/${port}`, { recursive: true });
    const child = spawnLogged(["redis-server", ...args], `${this.dir}/${port}.log`);
    this.#children.set(port, { child, status: child.status });
    const deadline = Date.now() + this.readyTimeoutMs;
    while (!/PONG/.test(await cli(port, "PING") ?? "")) {
      if (Date.now() > deadline) {
        throw new Error(`Throwaway redis-server ${port} did not answer:\n${await this.log(port)}`);
      }
      await delay(50);
    }
  }

  /** Sends SIGKILL to the process on `port` and waits for it to exit. */
  async kill(port: number): Promise<void> {
    const running = this.#children.get(port);
    if (running === undefined) return;
    try {
      Deno.kill(running.child.pid, "SIGKILL");
    } catch {
      // already gone
    }
    await running.status;
    this.#children.delete(port);
  }

  /** The log of the process on `port` so far. */
  log(port: number): Promise<string> {
    return Deno.readTextFile(`${this.dir}/${port}.log`).catch(() => "");
  }

  /** Kills every process and deletes the directory. */
  async close(): Promise<void> {
    await Promise.all(this.running.map((port) => this.kill(port)));
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  /** {@linkcode close} without waiting, for an `unload` listener, which cannot wait. */
  closeSync(): void {
    for (const { child } of this.#children.values()) {
      try {
        Deno.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    this.#children.clear();
    try {
      Deno.removeSync(this.dir, { recursive: true });
    } catch {
      // removed already
    }
  }
}
