/**
 * The fault matrix: each backend is killed, stopped, restarted (and, for PostgreSQL, has its
 * sessions terminated) while a worker process writes through the kit, and the worker's figures
 * are checked and printed as a markdown table for the README. Workers are processes of their own
 * because a client library's failure can end a process; see `testdata/_workload.ts`.
 */
import assert from "node:assert/strict";
import * as db from "../db/mod.ts";
import { postgresDb } from "../drivers/postgres/mod.ts";
import { quietLogger } from "../testing/logger.ts";
import {
  serverAvailable,
  type ServerKind,
  startServer,
  type ThrowawayServer,
} from "../testing/server.ts";
import { serviceUrl } from "../testing/services.ts";
import type { Report } from "./testdata/_workload.ts";

type Fault = "kill" | "stop" | "restart" | "terminate";

const STOP_MS = 3000;
/** How each fault is injected, for the table's legend. */
const FAULTS: Readonly<Record<Fault, string>> = {
  kill: "SIGKILL to the server (PostgreSQL: the postmaster), then started again on the same data",
  stop: `SIGSTOP to the server's processes for ${STOP_MS / 1000} s, then SIGCONT`,
  restart: "graceful shutdown (SIGTERM; PostgreSQL: SIGINT, fast), then started again",
  terminate: "pg_terminate_backend on every session of the workload",
};
/** Steady writing before the fault and after recovery. */
const STEADY_MS = 1000;
/** The longest a backend may take to take writes again after the fault ended. */
const RECOVERY_BOUND_MS = 15_000;

const root = new URL("../", import.meta.url);
const rows: string[] = [];

function row(backend: string, fault: Fault, report: Report): string {
  const cells = [
    backend,
    fault,
    report.ops,
    report.acknowledged,
    report.errors,
    report.unhandled,
    report.uncaught,
    report.lost,
    report.duplicates ?? "n/a",
    report.ambiguous,
    report.recoveryMs === null ? "none" : `${report.recoveryMs} ms`,
    `${report.stallMs} ms`,
  ];
  return `| ${cells.join(" | ")} |`;
}

const HEADER = [
  "| backend | fault | writes | acknowledged | errors | unhandled rejections | uncaught errors | acknowledged lost | duplicates | ambiguous | recovery | longest stall |",
  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
];

/** The pids of `pid` and its descendants (PostgreSQL's backends are the postmaster's children). */
async function processTree(pid: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`).catch(() => "");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (fields.length > 1) parents.set(Number(entry.name), Number(fields[1]));
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

function signalAll(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

/** Breaks `server` as `fault` says; resolves when the fault is over (the server answers again). */
async function inject(fault: Fault, server: ThrowawayServer, applicationName: string) {
  switch (fault) {
    case "kill":
      await server.kill("SIGKILL");
      await server.start();
      return;
    case "stop": {
      const pids = await processTree(server.pid!);
      signalAll(pids, "SIGSTOP");
      try {
        await sleep(STOP_MS);
      } finally {
        signalAll(pids, "SIGCONT");
      }
      return;
    }
    case "restart":
      await server.stop();
      await server.start();
      return;
    case "terminate": {
      await using admin = await db.create(
        { ...db.defaultConfig("development"), url: server.url, poolSize: 1 },
        { driver: postgresDb({ applicationName: "kit-reliability-admin" }), logger: quietLogger() },
      );
      await admin.sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${applicationName}`;
      return;
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects a child's stdout lines as they come. */
class LineLog {
  readonly lines: string[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let buffer = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        this.lines.push(...parts);
      }
      if (buffer) this.lines.push(buffer);
    })();
  }

  /** The first line starting with `prefix`, waiting up to `timeoutMs`; undefined if none came. */
  async waitFor(prefix: string, timeoutMs: number): Promise<string | undefined> {
    let ended = false;
    this.done.then(() => (ended = true), () => (ended = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((candidate) => candidate.startsWith(prefix));
      if (line !== undefined || ended || Date.now() > deadline) return line;
      await sleep(20);
    }
  }
}

interface CaseResult {
  report: Report | undefined;
  /** `code 0` when the worker ended by itself; `killed (SIGKILL)` when it had to be ended. */
  exit: string;
  recovered: boolean;
  output: string;
}

/** Runs one worker through one fault and collects its report, whatever happens. */
async function runCase(
  server: ThrowawayServer,
  fault: Fault,
  worker: string,
  args: string[],
  applicationName = "",
): Promise<CaseResult> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--quiet",
      new URL(`./testdata/${worker}`, import.meta.url).pathname,
      ...args,
    ],
    cwd: root,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new LineLog(child.stdout);
  const stderr = new Response(child.stderr).text();
  const control = child.stdin.getWriter();
  const tell = (line: string) =>
    control.write(new TextEncoder().encode(line + "\n")).catch(() => {});
  let exited = false;
  const status = child.status.then((result) => {
    exited = true;
    return result;
  });
  let recovered = false;
  let report: Report | undefined;
  try {
    if (await stdout.waitFor("@started", 30_000)) {
      await sleep(STEADY_MS);
      await inject(fault, server, applicationName);
      await tell(`healed ${Date.now()}`);
      recovered = (await stdout.waitFor("@recovered", RECOVERY_BOUND_MS)) !== undefined;
      if (recovered) await sleep(STEADY_MS);
    }
    await tell("finish");
    await control.close().catch(() => {});
    const line = await stdout.waitFor("@report ", 40_000);
    if (line) report = JSON.parse(line.slice("@report ".length));
    // The worker must end by itself once closed: a handle left open keeps it alive.
    for (let waited = 0; !exited && waited < 10_000; waited += 50) await sleep(50);
  } finally {
    // Also when the fault could not be injected: no process or stream outlives the case.
    if (!exited) child.kill("SIGKILL");
    await control.close().catch(() => {});
    await Promise.all([status, stdout.done, stderr]);
  }
  const { code, signal } = await status;
  const output = `stdout:\n${stdout.lines.join("\n")}\nstderr:\n${(await stderr).slice(-4000)}`;
  return {
    report,
    exit: signal === null ? `code ${code}` : `killed (${signal})`,
    recovered,
    output,
  };
}

/** The checks every case passes; prints its table row. */
function check(backend: string, fault: Fault, result: CaseResult, exactlyOnce: boolean): void {
  const { report, output } = result;
  assert.ok(report, `the worker printed no report (${result.exit}):\n${output}`);
  const line = row(backend, fault, report);
  rows.push(line);
  console.log(line);
  const context = `${line}\n${JSON.stringify(report)}\n${output}`;
  assert.equal(
    result.exit,
    "code 0",
    `the worker ended with ${result.exit} (SIGKILL: still running 10 s after its report):\n${context}`,
  );
  assert.equal(report.unhandled, 0, `unhandled rejections:\n${context}`);
  assert.equal(report.uncaught, 0, `uncaught errors:\n${context}`);
  assert.equal(report.hung, 0, `writes never settled:\n${context}`);
  assert.equal(report.lost, 0, `acknowledged writes lost:\n${context}`);
  if (exactlyOnce) assert.equal(report.duplicates, 0, `duplicate writes:\n${context}`);
  assert.ok(
    result.recovered && report.recoveryMs !== null && report.recoveryMs <= RECOVERY_BOUND_MS,
    `no write acknowledged within ${RECOVERY_BOUND_MS} ms of the fault's end:\n${context}`,
  );
}

function unavailable(kind: ServerKind): boolean {
  return serviceUrl(kind) === undefined || !serverAvailable(kind);
}

Deno.test({
  name:
    "[redis] reliability: mq over Redis Streams loses no acknowledged message (kill, stop, restart)",
  ignore: unavailable("redis"),
  async fn(t) {
    // Every write is on disk before Redis answers, so a killed Redis keeps what it acknowledged.
    await using server = await startServer("redis", {
      args: ["--appendonly", "yes", "--appendfsync", "always"],
    });
    for (const fault of ["kill", "stop", "restart"] as const) {
      await t.step(fault, async () => {
        const result = await runCase(server, fault, "redis_worker.ts", [
          server.url,
          `reliability.${fault}`,
        ]);
        check("redis (mq, Redis Streams)", fault, result, false);
      });
    }
  },
});

Deno.test({
  name: "[etcd] reliability: coord config loses no acknowledged write (kill, stop, restart)",
  ignore: unavailable("etcd"),
  async fn(t) {
    await using server = await startServer("etcd");
    for (const fault of ["kill", "stop", "restart"] as const) {
      await t.step(fault, async () => {
        const result = await runCase(server, fault, "etcd_worker.ts", [
          server.url,
          `/reliability/${fault}`,
        ]);
        check("etcd (coord config)", fault, result, false);
      });
    }
  },
});

Deno.test({
  name:
    "[postgres] reliability: db transactions lose and repeat no acknowledged write (terminate, kill, stop, restart)",
  ignore: unavailable("postgres"),
  async fn(t) {
    await using server = await startServer("postgres");
    for (const fault of ["terminate", "kill", "stop", "restart"] as const) {
      await t.step({
        name: fault,
        fn: async () => {
          const applicationName = `kit-reliability-${fault}`;
          const result = await runCase(
            server,
            fault,
            "postgres_worker.ts",
            [server.url, applicationName, `reliability_${fault}`],
            applicationName,
          );
          check("postgres (db transactions)", fault, result, true);
        },
      });
    }
  },
});

/** What the columns mean, for the table's legend. */
const COLUMNS = [
  "writes: 4 loops in one worker process, each writing one item at a time (10 ms pause after a " +
  "success, 100 ms after a failure), from before the fault until 1 s after recovery",
  "acknowledged lost: resolved writes the backend no longer holds (mq: never delivered)",
  "duplicates: items held or delivered more than once (mq is at-least-once; etcd keys hold one value)",
  "ambiguous: writes that rejected but were stored all the same",
  "recovery: from the fault's end (the server answers again, or SIGCONT) to the first write acknowledged after it",
  "longest stall: the longest time without an acknowledged write",
];

Deno.test("reliability: the fault matrix, for the README", () => {
  if (rows.length === 0) return;
  const faults = Object.entries(FAULTS).map(([fault, how]) => `- ${fault}: ${how}`);
  const columns = COLUMNS.map((line) => `- ${line}`);
  console.log([...HEADER, ...rows, "", ...faults, ...columns].join("\n"));
});
