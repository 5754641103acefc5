/**
 * Graceful shutdown: from SIGTERM to a clean exit, one step after another in the order that loses
 * no request and no acknowledged message.
 *
 * @module
 */
import * as clog from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import type { HealthHandlers } from "./mod.ts";

/** The steps {@linkcode onShutdown} runs, in this order. */
export const SHUTDOWN_STEPS = [
  "stop accepting",
  "leave registry",
  "drain http server",
  "close subscriptions",
  "flush producers",
  "flush logs",
  "dispose providers",
] as const;

/** One step of a shutdown. */
export type ShutdownStep = typeof SHUTDOWN_STEPS[number];

/** Options of {@linkcode onShutdown}; every part is optional, a missing one skips its step. */
export interface ShutdownOptions {
  /** Health handlers whose `/readyz` answers 503 from the start of shutdown. */
  readonly handlers?: Pick<HealthHandlers, "drain">;
  /** Registrations to remove (coord's `registry.register` results), so no one discovers us. */
  readonly registrations?: readonly { unregister(): Promise<void> }[];
  /** The HTTP server (`Deno.serve`'s): `shutdown()` refuses new connections and drains the rest. */
  readonly server?: { shutdown(): Promise<void> };
  /** mq subscriptions: `close()` lets the message in hand finish and commit. */
  readonly subscriptions?: readonly { close(): Promise<void> }[];
  /** mq producers: `flush()` sends what is still batched. */
  readonly producers?: readonly { flush(): Promise<void> }[];
  /** Providers to close last (mq, cache, db, coord …), in the order given. */
  readonly providers?: readonly { close(): Promise<void> }[];
  /**
   * Where each step is logged; its sinks (and the global clog root's) are flushed in "flush logs".
   * @default {clog.namespace("shutdown")}
   */
  readonly logger?: clog.Logger & { flush?(): void };
  /**
   * The time the whole shutdown may take; each step gets what is left, later steps are skipped.
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /**
   * Signals that start the shutdown.
   * @default {["SIGTERM", "SIGINT"]}
   */
  readonly signals?: readonly Deno.Signal[];
}

/** The outcome of one step. */
export interface StepResult {
  /** The step. */
  readonly step: ShutdownStep;
  /** `ok`, `failed` (one of its parts threw), `timed out`, or `skipped` (no time was left). */
  readonly outcome: "ok" | "failed" | "timed out" | "skipped";
  /** How long it took, in whole milliseconds. */
  readonly ms: number;
  /** The failures' messages, when it failed. */
  readonly errors?: readonly string[];
}

/** What a shutdown did. */
export interface ShutdownReport {
  /** Why it started: the signal's name, or the reason given to `shutdown()`. */
  readonly reason: string;
  /** Whether every step that ran succeeded in time. */
  readonly ok: boolean;
  /** The steps that had something to do, in the order they ran. */
  readonly steps: readonly StepResult[];
}

/** A shutdown armed by {@linkcode onShutdown}. Disposing it removes its signal listeners. */
export interface Shutdown extends Disposable {
  /** Aborts when the shutdown starts: stop loops that take new work. */
  readonly signal: AbortSignal;
  /** Resolves with the report once every step ran; it never rejects. */
  readonly done: Promise<ShutdownReport>;
  /** Starts the shutdown now (as a signal would); returns `done`. Calling it again changes nothing. */
  shutdown(reason?: string): Promise<ShutdownReport>;
}

const OPTION_KEYS = [
  "handlers",
  "registrations",
  "server",
  "subscriptions",
  "producers",
  "providers",
  "logger",
  "timeoutMs",
  "signals",
];

/**
 * Arms a graceful shutdown on SIGTERM and SIGINT: stop accepting (`/readyz` answers 503 and
 * `signal` aborts), leave the registry, drain the HTTP server, close subscriptions after their
 * message in flight, flush producers and logs, dispose providers. Each step is logged and bounded
 * by the time left; a failing step is logged and the next one runs. The listener never throws.
 *
 * @param options What to stop, the time limit and the signals.
 * @returns The armed shutdown; await its `done`, then exit.
 * @throws {TypeError} On an unknown option.
 * @throws {RangeError} When `timeoutMs` is not a positive number.
 *
 * @example Steps run in order
 * ```ts
 * import { onShutdown } from "./shutdown.ts";
 * import assert from "node:assert/strict";
 *
 * const order: string[] = [];
 * using stop = onShutdown({
 *   producers: [{ flush: async () => void order.push("flush") }],
 *   providers: [{ close: async () => void order.push("close") }],
 *   signals: [],
 * });
 * const report = await stop.shutdown("test");
 * assert.deepEqual(order, ["flush", "close"]);
 * assert.equal(report.ok, true);
 * ```
 */
export function onShutdown(options: ShutdownOptions): Shutdown {
  checkConfig("shutdown", options, OPTION_KEYS, {
    action: "arm",
    argument: "options",
    noun: "option",
  });
  const {
    handlers,
    registrations = [],
    server,
    subscriptions = [],
    producers = [],
    providers = [],
    timeoutMs = 10_000,
    signals = ["SIGTERM", "SIGINT"],
  } = options;
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot arm shutdown as 'timeoutMs' must be a positive number: current value is ${timeoutMs}`,
    );
  }

  const logger: clog.Logger & { flush?(): void } = options.logger ?? clog.namespace("shutdown");
  const controller = new AbortController();
  // Each step is a list of parts run at once; an empty list means nothing to do.
  const steps: Record<ShutdownStep, (() => unknown)[]> = {
    "stop accepting": [() => handlers?.drain(), () => controller.abort(new Error("shutting down"))],
    "leave registry": registrations.map((registration) => () => registration.unregister()),
    "drain http server": server ? [() => server.shutdown()] : [],
    "close subscriptions": subscriptions.map((subscription) => () => subscription.close()),
    "flush producers": producers.map((producer) => () => producer.flush()),
    "flush logs": [() => logger.flush?.(), () => clog.flush()],
    "dispose providers": providers.length === 0 ? [] : [() => closeInOrder(providers)],
  };

  let finish!: (report: ShutdownReport) => void;
  const done = new Promise<ShutdownReport>((resolve) => (finish = resolve));
  let started = false;

  const run = async (reason: string): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    const results: StepResult[] = [];
    logger.info("shutdown started", { reason, timeout_ms: timeoutMs });
    for (const step of SHUTDOWN_STEPS) {
      if (steps[step].length === 0) continue;
      const result = await runStep(step, steps[step], deadline - performance.now());
      results.push(result);
      const fields = { step, outcome: result.outcome, ms: result.ms, errors: result.errors };
      if (result.outcome === "ok") logger.info("shutdown step", fields);
      else logger.error("shutdown step", fields);
    }
    const report = {
      reason,
      ok: results.every((result) => result.outcome === "ok"),
      steps: results,
    };
    logger.info("shutdown finished", { reason, ok: report.ok });
    try {
      logger.flush?.();
      clog.flush();
    } catch {
      // The report still reaches the caller.
    }
    finish(report);
  };

  const shutdown = (reason = "shutdown() called"): Promise<ShutdownReport> => {
    if (!started) {
      started = true;
      run(reason).catch((error) =>
        finish({
          reason,
          ok: false,
          steps: [{ step: "stop accepting", outcome: "failed", ms: 0, errors: [String(error)] }],
        })
      );
    }
    return done;
  };

  const listeners = signals.map((signal) => {
    const listener = () => void shutdown(signal);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  };
  // Listeners are no longer needed once the shutdown ran: a second signal then has its default.
  void done.then(dispose);

  return { signal: controller.signal, done, shutdown, [Symbol.dispose]: dispose };
}

/** Closes providers one after another (a later one may depend on an earlier one), each even when one fails. */
async function closeInOrder(providers: readonly { close(): Promise<void> }[]): Promise<void> {
  const errors: string[] = [];
  for (const provider of providers) {
    await provider.close().catch((error) =>
      errors.push(error instanceof Error ? error.message : String(error))
    );
  }
  if (errors.length > 0) throw new Error(errors.join("; "));
}

/** Runs a step's parts at once and waits for them at most `leftMs`. */
async function runStep(
  step: ShutdownStep,
  parts: readonly (() => unknown)[],
  leftMs: number,
): Promise<StepResult> {
  const start = performance.now();
  const ms = () => Math.round(performance.now() - start);
  if (leftMs <= 0) return { step, outcome: "skipped", ms: 0 };
  const errors: string[] = [];
  const settled = Promise.all(parts.map(async (part) => {
    try {
      await part();
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
    }
  }));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<true>((
    resolve,
  ) => (timer = setTimeout(() => resolve(true), leftMs)));
  const late = await Promise.race([settled.then(() => false), timedOut]).finally(() =>
    clearTimeout(timer)
  );
  if (late) return { step, outcome: "timed out", ms: ms() };
  if (errors.length > 0) return { step, outcome: "failed", ms: ms(), errors };
  return { step, outcome: "ok", ms: ms() };
}
