/**
 * The half every reliability worker shares: a paced loop of numbered writes, the line protocol
 * with `tests/reliability_test.ts`, and a count of the process's unhandled rejections and uncaught
 * errors. Import it first, so its listeners are in place before any client library loads.
 *
 * Protocol: the worker prints `@started` once a write was acknowledged; the test injects its fault
 * and writes `healed <unix ms>` to the worker's stdin when the fault is over; the worker prints
 * `@recovered` at the first write acknowledged after that; the test writes `finish` (or closes
 * stdin); the worker stops writing, checks what the backend kept, closes, and prints
 * `@report <json>` (a {@linkcode Report}).
 *
 * @module
 */
import * as clog from "../../clog/mod.ts";

let unhandled = 0;
let uncaught = 0;
let firstUnhandled: string | undefined;
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  unhandled++;
  firstUnhandled ??= describe(event.reason);
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  uncaught++;
  firstUnhandled ??= describe(event.error);
});

// The kit's warnings go to stderr (shown when a case fails); stdout carries the protocol only.
clog.init({ level: "warn", format: "json", output: "stderr" });

/** What a worker found when it read its writes back. */
export interface Verification {
  /** Acknowledged writes the backend does not have (or, for mq, never delivered). */
  readonly lost: number;
  /** Writes the backend holds (or delivered) more than once; null where that cannot happen. */
  readonly duplicates: number | null;
  /** Writes that failed for the caller but were stored all the same. */
  readonly ambiguous: number;
}

/** The figures a worker prints after `@report`. */
export interface Report extends Verification {
  /** Writes started. */
  readonly ops: number;
  /** Writes that resolved. */
  readonly acknowledged: number;
  /** Writes that rejected. */
  readonly errors: number;
  /** Writes still pending 10 s after `finish`: a hang. */
  readonly hung: number;
  /** When each hung write started, in ms after the fault's end (negative: before it). */
  readonly hungStartedMs: number[];
  /** Unhandled promise rejections in the worker. */
  readonly unhandled: number;
  /** Uncaught errors in the worker. */
  readonly uncaught: number;
  /** From the end of the fault to the first write acknowledged after it; null if none was. */
  readonly recoveryMs: number | null;
  /** The longest time without an acknowledged write: how long the fault held the writer up. */
  readonly stallMs: number;
  /** The first error a write rejected with (name and message). */
  readonly firstError?: string;
  /** The first unhandled rejection or uncaught error. */
  readonly firstUnhandled?: string;
}

/** A backend under test, as a worker drives it. */
export interface Workload {
  /** Writes `seq` once; resolves when the backend acknowledged it. */
  write(seq: number): Promise<void>;
  /** Reads everything back once writing stopped. */
  verify(acknowledged: ReadonlySet<number>, failed: ReadonlySet<number>): Promise<Verification>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/** Options of {@linkcode runWorkload}. */
export interface RunOptions {
  /**
   * Loops writing at once, each one write at a time.
   * @default {4}
   */
  readonly lanes?: number;
  /**
   * Pause after an acknowledged write.
   * @default {10}
   */
  readonly pauseMs?: number;
  /**
   * Pause after a failed write, as an application backing off would.
   * @default {100}
   */
  readonly errorPauseMs?: number;
}

/**
 * Opens the workload, writes until the test says `finish`, verifies, closes and prints the report.
 *
 * @param open Connects to the backend and returns the workload.
 * @param options Lanes and pacing.
 */
export async function runWorkload(
  open: () => Promise<Workload>,
  options: RunOptions = {},
): Promise<void> {
  const { lanes = 4, pauseMs = 10, errorPauseMs = 100 } = options;
  const workload = await open();
  const acknowledged = new Set<number>();
  const failed = new Set<number>();
  const acknowledgedAt: number[] = [];
  const pending = new Map<number, number>(); // seq → when it started
  let next = 0;
  let firstError: string | undefined;
  let healedAt: number | undefined;
  let finishing = false;
  let recoveredPrinted = false;

  const lane = async (): Promise<void> => {
    while (!finishing) {
      const seq = next++;
      pending.set(seq, Date.now());
      try {
        await workload.write(seq);
      } catch (error) {
        pending.delete(seq);
        failed.add(seq);
        firstError ??= describe(error);
        await sleep(errorPauseMs);
        continue;
      }
      pending.delete(seq);
      acknowledged.add(seq);
      acknowledgedAt.push(Date.now());
      if (acknowledged.size === 1) console.log("@started");
      if (healedAt !== undefined && !recoveredPrinted && Date.now() >= healedAt) {
        recoveredPrinted = true;
        console.log("@recovered");
      }
      await sleep(pauseMs);
    }
  };
  const running = Promise.all(Array.from({ length: lanes }, lane));

  for await (const line of stdinLines()) {
    if (line.startsWith("healed ")) healedAt = Number(line.slice("healed ".length));
    if (line === "finish") break;
  }
  finishing = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    running.then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
  ]);
  clearTimeout(timer);
  const hungStartedMs = settled ? [] : [...pending.values()].map((at) => at - (healedAt ?? 0));

  const verification = await workload.verify(acknowledged, failed);
  await workload.close();
  // A moment for anything a failure scheduled on a timer to surface.
  await sleep(300);
  acknowledgedAt.sort((a, b) => a - b);
  const recoveredAt = healedAt === undefined
    ? undefined
    : acknowledgedAt.find((at) => at >= healedAt!);
  let stallMs = 0;
  for (let i = 1; i < acknowledgedAt.length; i++) {
    stallMs = Math.max(stallMs, acknowledgedAt[i] - acknowledgedAt[i - 1]);
  }
  const report: Report = {
    ops: next,
    acknowledged: acknowledged.size,
    errors: failed.size,
    hung: hungStartedMs.length,
    hungStartedMs,
    unhandled,
    uncaught,
    recoveryMs: recoveredAt === undefined ? null : recoveredAt - healedAt!,
    stallMs,
    ...verification,
    firstError,
    firstUnhandled,
  };
  console.log(`@report ${JSON.stringify(report)}`);
}

/**
 * Retries a read-back until it succeeds, for at most `timeoutMs`: right after a fault the first
 * attempt may still meet a dropped connection.
 *
 * @param read The read.
 * @param timeoutMs How long to keep trying.
 * @returns What `read` resolved to.
 */
export async function readBack<T>(read: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await read();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(200);
    }
  }
}

/**
 * Resolves after `ms` milliseconds.
 *
 * @param ms The delay.
 * @returns A promise of the pause.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function* stdinLines(): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end).trim();
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer.trim()) yield buffer.trim();
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? ` (cause: ${error.cause.message})` : "";
  return `${error.name}: ${error.message}${cause}`.slice(0, 500);
}
