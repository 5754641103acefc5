/**
 * A logger that writes nowhere, for tests and benches whose log lines are noise.
 *
 * @module
 */
import { create, type MemorySink, memorySink, type RootLogger } from "../clog/mod.ts";

/**
 * A root logger with no sinks at `error` level: lines are dropped.
 *
 * @returns The logger.
 *
 * @example
 * ```ts
 * import { quietLogger } from "./logger.ts";
 * import assert from "node:assert/strict";
 *
 * using logger = quietLogger();
 * logger.error("dropped");
 * assert.equal(logger.level, "error");
 * ```
 */
export function quietLogger(): RootLogger {
  return create({ level: "error", format: "json", output: "stdout" }, { sinks: [] });
}

/**
 * A root logger at `debug` level that keeps every record in memory, for asserting on what a
 * provider logged.
 *
 * @returns The logger and the sink holding its records.
 *
 * @example
 * ```ts
 * import { capturingLogger } from "./logger.ts";
 * import assert from "node:assert/strict";
 *
 * const { logger, logs } = capturingLogger();
 * logger.namespace("coord").warn("lease lost");
 * assert.equal(logs.records[0].msg, "lease lost");
 * ```
 */
export function capturingLogger(): { logger: RootLogger; logs: MemorySink } {
  const logs = memorySink();
  return {
    logger: create({ level: "debug", format: "json", output: "stdout" }, { sinks: [logs] }),
    logs,
  };
}
