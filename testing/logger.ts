/**
 * A logger that writes nowhere, for tests and benches whose log lines are noise.
 *
 * @module
 */
import { create, type RootLogger } from "../clog/mod.ts";

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
