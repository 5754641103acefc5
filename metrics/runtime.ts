/**
 * Runtime metrics, on by default: what a Prometheus process collector and prom-client's defaults
 * give a Node service, from what Deno exposes. Sampled when the registry is rendered (a scrape)
 * and every `intervalMs` (for push exporters such as OpenTelemetry), on a timer that does not
 * keep the process alive.
 *
 * | metric | from |
 * |---|---|
 * | `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total`, `process_cpu_seconds_total` | `process.cpuUsage()` |
 * | `process_resident_memory_bytes` | `Deno.memoryUsage().rss` |
 * | `process_start_time_seconds` | `performance.timeOrigin` |
 * | `process_open_fds`, `process_max_fds` | `/proc/self/fd`, `/proc/self/limits` (Linux, with read permission there) |
 * | `deno_heap_size_total_bytes`, `deno_heap_size_used_bytes`, `deno_external_memory_bytes` | `Deno.memoryUsage()` |
 * | `deno_eventloop_lag_seconds`, `deno_eventloop_lag_max_seconds` | a 100 ms timer's lateness, mean and worst since the previous sample |
 *
 * Event-loop lag is measured with a timer: Deno's `monitorEventLoopDelay` (node:perf_hooks)
 * reported a 60 ms block as 0.1 ms here, so it is not used.
 * Deno exposes no garbage-collection events (`PerformanceObserver` has no `gc` entries), so there
 * is no GC metric.
 *
 * @module
 */
import process from "node:process";
import type { Instruments } from "./instruments.ts";

/** Started runtime metrics; `close` stops the timer and the event-loop monitor. */
export interface RuntimeMetrics {
  /** Takes a sample now. */
  sample(): void;
  /** Stops sampling. */
  close(): void;
}

const LAG_TICK_MS = 100;

/** How late a repeating timer fires: the event loop's delay, as a timer sees it. */
class LagMonitor {
  #timer: number;
  #expected = performance.now() + LAG_TICK_MS;
  #sum = 0;
  #count = 0;
  #max = 0;

  constructor() {
    // A number at run time; node:process's types would make it a Node `Timeout`.
    this.#timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.#expected);
      this.#expected = now + LAG_TICK_MS;
      this.#sum += lag;
      this.#count++;
      if (lag > this.#max) this.#max = lag;
    }, LAG_TICK_MS) as unknown as number;
    Deno.unrefTimer(this.#timer);
  }

  /** Mean and worst lag in seconds since the last call, undefined when no tick came. */
  take(): { mean: number; max: number } | undefined {
    if (this.#count === 0) return undefined;
    const result = { mean: this.#sum / this.#count / 1000, max: this.#max / 1000 };
    this.#sum = this.#count = this.#max = 0;
    return result;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Open descriptors now, or undefined where they cannot be counted: not Linux, or `/proc/self` not
 * readable without asking (Deno wants full access for `/proc/self` files even under
 * `--allow-read`, so a failed read is the answer, never a prompt from a metrics timer).
 */
function openFds(): number | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    if (Deno.permissions.querySync({ name: "read", path: "/proc/self/fd" }).state !== "granted") {
      return undefined;
    }
    let count = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
    return count - 1; // the directory being read is one of them
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const line = Deno.readTextFileSync("/proc/self/limits").split("\n").find((text) =>
      text.startsWith("Max open files")
    );
    const soft = line?.split(/\s{2,}/)[1];
    return soft === undefined || !/^\d+$/.test(soft) ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

/**
 * Registers the runtime metrics on `instruments` and starts sampling them.
 *
 * @param instruments The provider's instrument factories.
 * @param intervalMs How often to sample between scrapes.
 * @returns The sampler.
 */
export function runtimeMetrics(instruments: Instruments, intervalMs: number): RuntimeMetrics {
  const { counter, gauge } = instruments;
  const cpuUser = counter("process_cpu_user_seconds_total", {
    help: "User CPU time spent, in seconds.",
  });
  const cpuSystem = counter("process_cpu_system_seconds_total", {
    help: "System CPU time spent, in seconds.",
  });
  const cpuTotal = counter("process_cpu_seconds_total", {
    help: "User and system CPU time spent, in seconds.",
  });
  const rss = gauge("process_resident_memory_bytes", { help: "Resident memory size, in bytes." });
  gauge("process_start_time_seconds", {
    help: "Start time of the process since the Unix epoch, in seconds.",
  }).set(Math.round(performance.timeOrigin / 1000));
  const heapTotal = gauge("deno_heap_size_total_bytes", { help: "V8 heap size, in bytes." });
  const heapUsed = gauge("deno_heap_size_used_bytes", { help: "V8 heap used, in bytes." });
  const external = gauge("deno_external_memory_bytes", {
    help: "Memory of objects outside the V8 heap bound to JavaScript objects, in bytes.",
  });
  const lagMean = gauge("deno_eventloop_lag_seconds", {
    help: "Mean event-loop delay since the previous sample, in seconds.",
  });
  const lagMax = gauge("deno_eventloop_lag_max_seconds", {
    help: "Longest event-loop delay since the previous sample, in seconds.",
  });
  const fdGauge = openFds() === undefined
    ? undefined
    : gauge("process_open_fds", { help: "Open file descriptors." });
  const max = fdGauge && maxFds();
  if (max !== undefined) {
    gauge("process_max_fds", { help: "Most open file descriptors allowed." }).set(max);
  }

  const delay = new LagMonitor();
  let cpu = { user: 0, system: 0 };
  const sample = () => {
    const now = process.cpuUsage();
    const user = (now.user - cpu.user) / 1e6;
    const system = (now.system - cpu.system) / 1e6;
    cpu = now;
    if (user > 0) cpuUser.add(user);
    if (system > 0) cpuSystem.add(system);
    if (user + system > 0) cpuTotal.add(user + system);
    const memory = Deno.memoryUsage();
    rss.set(memory.rss);
    heapTotal.set(memory.heapTotal);
    heapUsed.set(memory.heapUsed);
    external.set(memory.external);
    const lag = delay.take();
    if (lag) {
      lagMean.set(lag.mean);
      lagMax.set(lag.max);
    }
    if (fdGauge) {
      const count = openFds();
      if (count !== undefined) fdGauge.set(count);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs) as unknown as number;
  Deno.unrefTimer(timer);
  return {
    sample,
    close() {
      clearInterval(timer);
      delay.stop();
    },
  };
}
