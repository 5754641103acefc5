/**
 * Throwaway servers (redis-server, etcd, PostgreSQL) on a free loopback port,
 * for fault tests that kill a backend mid-run and start it again.
 *
 * @module
 */

/** The backends {@linkcode startServer} can run. */
export type ServerKind = "redis" | "etcd" | "postgres";

/** A running (or stopped) throwaway server that owns its data directory. */
export interface ThrowawayServer extends AsyncDisposable {
  /** Which backend this is. */
  readonly kind: ServerKind;
  /** Always `127.0.0.1`. */
  readonly host: string;
  /** The loopback port; kept across restarts. */
  readonly port: number;
  /** Connection URL: `redis://…`, `http://…` (etcd; `https://…` with TLS) or `postgres://postgres@…/postgres`. */
  readonly url: string;
  /** Pid of the server process while it runs. */
  readonly pid: number | undefined;
  /** Whether the process is running. */
  readonly running: boolean;
  /** Sends `signal` (SIGKILL by default) to the server's own pid and waits for it to exit. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Stops the server gracefully and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts the server again on the same port and data directory; resolves when it answers. */
  start(): Promise<void>;
  /** The server's log so far, for a failing test's message. */
  log(): Promise<string>;
  /** Kills the server if needed and deletes its data directory. */
  close(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  /**
   * How long to wait for the server to answer.
   * @default {20000}
   */
  readonly readyTimeoutMs?: number;
  /**
   * Extra command-line arguments for the server, after the kit's own: for a Redis that wants
   * a password, `["--requirepass", "pw"]`.
   * @default {[]}
   */
  readonly args?: readonly string[];
  /**
   * Serve clients over TLS with this certificate (etcd only): the URL becomes `https://…`, and
   * readiness is checked over TLS against `ca`.
   */
  readonly tls?: ServerTls;
}

/** PEM material of a throwaway server's TLS, for {@linkcode StartServerOptions.tls}. */
export interface ServerTls {
  /** The server's certificate (its SANs must name 127.0.0.1 to pass the readiness check). */
  readonly cert: string;
  /** The certificate's private key. */
  readonly key: string;
  /** The CA that signed `cert`. */
  readonly ca: string;
}

/** How to run and probe a throwaway server (internal to testing/). */
export interface Recipe {
  binary: string;
  args: string[];
  url: string;
  /** Postgres refuses to run as root. */
  asUser?: string;
  gracefulSignal: Deno.Signal;
  ready: () => Promise<boolean>;
}

/**
 * A loopback port nothing listens on right now: for servers to bind, or for a test that needs
 * an unreachable endpoint.
 *
 * @returns The port number.
 */
export async function freePort(): Promise<number> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  // A moment for the kernel to release the port before a server binds it.
  await new Promise((resolve) => setTimeout(resolve, 5));
  return port;
}

/**
 * The path of `binary` on `PATH`, or undefined when it is not installed.
 *
 * @param binary The executable's name.
 * @returns Its path.
 */
export function which(binary: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${binary}`).isFile) return `${dir}/${binary}`;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The arguments of a throwaway `postgres`: its data, loopback port and socket directory, no
 * fsync (test data only). Internal to testing/.
 */
export function postgresArgs(data: string, port: number, dir: string): string[] {
  return [
    "-D",
    data,
    "-p",
    `${port}`,
    "-h",
    "127.0.0.1",
    "-k",
    dir,
    "-c",
    "fsync=off",
    "-c",
    "full_page_writes=off",
  ];
}

/** The path of a PostgreSQL tool (Debian layout first, then PATH); internal to testing/. */
export function postgresBin(tool: string): string | undefined {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")].map((entry) => entry.name)
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) {
      const path = `/usr/lib/postgresql/${version}/bin/${tool}`;
      if (Deno.statSync(path).isFile) return path;
    }
  } catch {
    // no Debian PostgreSQL layout
  }
  return which(tool);
}

/**
 * Whether the binary for `kind` is installed, so a test can be ignored (and
 * reported as such) rather than fail where the server is missing.
 *
 * @param kind The backend.
 * @returns True when {@linkcode startServer} can run it.
 */
export function serverAvailable(kind: ServerKind): boolean {
  switch (kind) {
    case "redis":
      return which("redis-server") !== undefined;
    case "etcd":
      return which("etcd") !== undefined;
    case "postgres":
      return postgresBin("postgres") !== undefined && postgresBin("initdb") !== undefined;
  }
}

/**
 * Sends `request` (over TLS trusting `tlsCa`, when given) and reads until the reply matches
 * `expect`, the peer closes, or 2 s pass.
 */
async function tcpExchange(
  port: number,
  request: string,
  expect: RegExp,
  tlsCa?: string,
): Promise<boolean> {
  let conn: Deno.Conn | undefined;
  const timer = setTimeout(() => conn?.close(), 2000);
  try {
    conn = tlsCa === undefined
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [tlsCa] });
    if (request) await conn.write(new TextEncoder().encode(request));
    const buffer = new Uint8Array(4096);
    let reply = "";
    for (;;) {
      if (expect.test(reply)) return true;
      const read = await conn.read(buffer);
      if (read === null) return false;
      reply += new TextDecoder().decode(buffer.subarray(0, read));
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // closed by the timeout already
    }
  }
}

/** Whether something accepts connections on the loopback `port`. Internal to testing/. */
export async function tcpOpen(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `binary` to completion; rejects with its stderr on failure. Internal to testing/. */
export async function run(binary: string, args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(binary, { args, stdout: "null", stderr: "piped" })
    .output();
  if (code !== 0) {
    throw new Error(
      `${binary} ${args.join(" ")} failed (${code}): ${new TextDecoder().decode(stderr)}`,
    );
  }
}

/**
 * Runs `binary` to completion as `user` (PostgreSQL refuses to run as root), first giving it
 * `dir`; as the current user when `user` is undefined. Internal to testing/.
 */
export async function runAs(
  user: string | undefined,
  dir: string,
  binary: string,
  args: string[],
): Promise<void> {
  if (user === undefined) return await run(binary, args);
  const { uid, gid } = await userIds(user);
  await Deno.chown(dir, uid, gid);
  await run("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", binary, ...args]);
}

/** The uid and gid of `user`, from /etc/passwd. Internal to testing/. */
export async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  const line = passwd.split("\n").find((entry) => entry.startsWith(user + ":"));
  if (line === undefined) {
    throw new Error(`Cannot start postgres as root: no '${user}' user exists`);
  }
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/** The path of `binary` as found, or an error saying it is not installed. */
function installed(kind: ServerKind, binary: string, path: string | undefined): string {
  if (path === undefined) {
    throw new Error(`Cannot start a throwaway ${kind} server as '${binary}' is not installed`);
  }
  return path;
}

/** How to run and probe a throwaway server of `kind` on `port` with its data in `dir`. */
function recipe(
  kind: ServerKind,
  port: number,
  dir: string,
  tls?: ServerTls,
): Recipe | Promise<Recipe> {
  if (tls && kind !== "etcd") {
    throw new TypeError(
      `Cannot start a throwaway ${kind} server as 'tls' is supported for etcd only`,
    );
  }
  switch (kind) {
    case "redis":
      return redisRecipe(port, dir);
    case "etcd":
      return etcdRecipe(port, dir, tls);
    case "postgres":
      return postgresRecipe(port, dir);
  }
}

function redisRecipe(port: number, dir: string): Recipe {
  return {
    binary: installed("redis", "redis-server", which("redis-server")),
    args: [
      "--port",
      `${port}`,
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      dir,
    ],
    url: `redis://127.0.0.1:${port}`,
    gracefulSignal: "SIGTERM",
    // A server with a password answers PING with -NOAUTH: it is up all the same.
    ready: () => tcpExchange(port, "PING\r\n", /^(\+PONG|-NOAUTH)/),
  };
}

async function etcdRecipe(port: number, dir: string, tls?: ServerTls): Promise<Recipe> {
  const binary = installed("etcd", "etcd", which("etcd"));
  const peerPort = await freePort();
  const client = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const tlsArgs = [];
  if (tls) {
    await Deno.writeTextFile(`${dir}/server.pem`, tls.cert);
    await Deno.writeTextFile(`${dir}/server.key`, tls.key, { mode: 0o600 });
    tlsArgs.push(`--cert-file=${dir}/server.pem`, `--key-file=${dir}/server.key`);
  }
  return {
    binary,
    args: [
      "--name=throwaway",
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=throwaway=${peer}`,
      "--logger=zap",
      "--log-level=warn",
      ...tlsArgs,
    ],
    url: client,
    gracefulSignal: "SIGTERM",
    ready: () => etcdHealthy(port, tls?.ca),
  };
}

/**
 * Whether the etcd member whose client port is `port` reports itself healthy on `/health`
 * (which in etcd 3.4 also means its cluster has a leader).
 *
 * @param port The member's client port on 127.0.0.1.
 * @param tlsCa The CA to trust when the member serves TLS.
 * @returns True when it answers `"health": "true"` within 2 s.
 */
export function etcdHealthy(port: number, tlsCa?: string): Promise<boolean> {
  return tcpExchange(
    port,
    "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    /"health":\s*"true"/,
    tlsCa,
  );
}

async function postgresRecipe(port: number, dir: string): Promise<Recipe> {
  const binary = installed("postgres", "postgres", postgresBin("postgres"));
  const initdb = installed("postgres", "initdb", postgresBin("initdb"));
  const data = `${dir}/data`;
  const asUser = Deno.uid() === 0 ? "postgres" : undefined;
  await runAs(asUser, dir, initdb, ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"]);
  return {
    binary,
    args: postgresArgs(data, port, dir),
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    asUser,
    // SIGTERM waits for clients to leave; SIGINT is the fast shutdown.
    gracefulSignal: "SIGINT",
    ready: async () =>
      /database system is ready to accept connections/.test(
        await Deno.readTextFile(`${dir}/server.log`).catch(() => ""),
      ) && await tcpOpen(port),
  };
}

/** Starts `spec` with `extraArgs` after its own, appending its output to `logPath`. */
async function spawn(
  spec: Recipe,
  extraArgs: readonly string[],
  logPath: string,
): Promise<Deno.ChildProcess> {
  await Deno.writeTextFile(logPath, "");
  if (spec.asUser) {
    const { uid } = await userIds(spec.asUser);
    await Deno.chown(logPath, uid, null);
  }
  const privilege = spec.asUser
    ? await userIds(spec.asUser).then(({ uid, gid }) => [
      "setpriv",
      `--reuid=${uid}`,
      `--regid=${gid}`,
      "--clear-groups",
    ])
    : [];
  return spawnLogged([...privilege, spec.binary, ...spec.args, ...extraArgs], logPath);
}

/**
 * Starts `command` (the binary, then its arguments) with its output appended to `logPath`.
 * Through `sh -c 'exec …'`, so the pid of the child is the server's own and a kill hits the
 * server. Internal to testing/.
 */
export function spawnLogged(command: readonly string[], logPath: string): Deno.ChildProcess {
  return new Deno.Command("sh", {
    args: ["-c", 'exec "$@" >>"$KIT_SERVER_LOG" 2>&1', "sh", ...command],
    env: { KIT_SERVER_LOG: logPath },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

/**
 * Starts a throwaway server of `kind` on a free loopback port, with its data
 * in a fresh temporary directory, and resolves once it answers.
 *
 * @param kind `redis`, `etcd` or `postgres`.
 * @param options Readiness timeout, extra server arguments and (etcd) TLS.
 * @returns The running server.
 * @throws {Error} When the binary is missing or the server does not answer in time (with its log).
 *
 * @example Kill redis by its pid and start it again
 * ```ts ignore
 * import { startServer } from "./server.ts";
 *
 * await using redis = await startServer("redis");
 * await redis.kill();       // SIGKILL to its own pid
 * await redis.start();      // same port, answers again
 * ```
 */
export async function startServer(
  kind: ServerKind,
  options: StartServerOptions = {},
): Promise<ThrowawayServer> {
  const { tls } = options;
  const dir = await Deno.makeTempDir({ prefix: `kit-${kind}-` });
  const port = await freePort();
  let spec: Recipe;
  try {
    spec = await recipe(kind, port, dir, tls);
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return await runServer(kind, port, dir, spec, options);
}

/**
 * Runs `spec` as a throwaway server of `kind` on `port` that owns `dir` (its log is
 * `dir/server.log`; `close` deletes `dir`), and resolves once it answers. Internal to testing/
 * (`pg_replica.ts` runs its standby with it).
 */
export async function runServer(
  kind: ServerKind,
  port: number,
  dir: string,
  spec: Recipe,
  options: Pick<StartServerOptions, "readyTimeoutMs" | "args"> = {},
): Promise<ThrowawayServer> {
  const { readyTimeoutMs = 20_000, args = [] } = options;
  const logPath = `${dir}/server.log`;
  let child: Deno.ChildProcess | undefined;
  let exited: Promise<Deno.CommandStatus> | undefined;

  let sharedMemoryWaits = 0;
  const waitForExit = async (): Promise<void> => {
    if (exited !== undefined) await exited;
    child = undefined;
    exited = undefined;
  };

  const server: ThrowawayServer = {
    kind,
    host: "127.0.0.1",
    port,
    url: spec.url,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child !== undefined) return;
      child = await spawn(spec, args, logPath);
      exited = child.status;
      const deadline = Date.now() + readyTimeoutMs;
      let crashed = false;
      exited.then(() => (crashed = true));
      while (!(await spec.ready())) {
        if (crashed || Date.now() > deadline) {
          const log = await server.log();
          if (!crashed) await server.kill();
          await waitForExit();
          // Backends of a SIGKILLed postmaster outlive it for a moment, holding its memory.
          if (crashed && /pre-existing shared memory block/.test(log) && sharedMemoryWaits++ < 50) {
            await new Promise((resolve) => setTimeout(resolve, 100));
            return await server.start();
          }
          sharedMemoryWaits = 0;
          throw new Error(
            `Throwaway ${kind} on port ${port} did not become ready (${
              crashed ? "it exited" : "timeout"
            }):\n${log}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      sharedMemoryWaits = 0;
    },
    async kill(signal: Deno.Signal = "SIGKILL") {
      if (child === undefined) return;
      try {
        Deno.kill(child.pid, signal);
      } catch {
        // already gone; waitForExit collects its status
      }
      await waitForExit();
    },
    stop() {
      return server.kill(spec.gracefulSignal);
    },
    log() {
      return Deno.readTextFile(logPath).catch(() => "");
    },
    async close() {
      await server.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  try {
    await server.start();
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  return server;
}
