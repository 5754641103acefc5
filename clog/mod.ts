/**
 * clog: structured logging with hierarchical namespaces, bound fields, trace
 * ids carried through async context, pluggable sinks and a run-time level.
 *
 * The module-level functions drive one global logger tree, configured once
 * with {@linkcode init}; loggers taken before `init` follow it. {@linkcode create}
 * makes an independent tree, for tests and for injecting into providers.
 *
 * @example Namespaces, fields and a trace id
 * ```ts
 * import { clog } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = clog.memorySink();
 * clog.init(clog.defaultConfig("production"), { sinks: [sink] });
 * const repo = clog.namespace("im").namespace("repo").with({ shard: 2 });
 * await clog.withTrace("4bf92f3577b34da6a3ce929d0e0e4736", async () => {
 *   await Promise.resolve();
 *   repo.info("message saved", { id: 42 });
 * });
 * const [record] = sink.records;
 * assert.equal(record.namespace, "im.repo");
 * assert.equal(record.traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
 * assert.deepEqual({ ...record.bound, ...record.fields }, { shard: 2, id: 42 });
 * clog.close();
 * ```
 *
 * @module
 */
import { requireEnv } from "../internal/env.ts";
import {
  type LevelConfigSource,
  watchLevel as watchLevelOf,
  type WatchLevelOptions,
} from "./level_config.ts";
import {
  createCore,
  type CreateOptions,
  type Logger,
  replaceCore,
  type RootLogger,
  rootLogger,
} from "./logger.ts";
import type { ClogConfig, Fields, Level } from "./types.ts";

export { newSpanId, newTraceId, traceContext, traceId, withTrace } from "./context.ts";
export type { TraceContext } from "./context.ts";
export { consoleFormatter, jsonFormatter, serializeError } from "./format.ts";
export type { Formatter } from "./format.ts";
export { memorySink, writerSink } from "./sinks.ts";
export type { MemorySink, SyncWriter, WriterSinkOptions } from "./sinks.ts";
export { outputSink, validateConfig } from "./logger.ts";
export type { CreateOptions, Logger, RootLogger } from "./logger.ts";
export { LEVEL_VALUES, LEVELS } from "./types.ts";
export { parseLogConfig } from "./level_config.ts";
export type { LevelConfigSource, LogConfig, WatchLevelOptions } from "./level_config.ts";
export type { ClogConfig, Fields, Format, Level, LogRecord, Output, Sink } from "./types.ts";

/**
 * The recommended configuration for an environment: `development` writes
 * readable console lines from `debug` up; `production` writes JSON lines from
 * `info` up. Both write to stdout.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 *
 * @example Production
 * ```ts
 * import { defaultConfig } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(defaultConfig("production").format, "json");
 * ```
 */
export function defaultConfig(env: "development" | "production"): ClogConfig {
  return requireEnv("clog", env) === "development"
    ? { level: "debug", format: "console", output: "stdout" }
    : { level: "info", format: "json", output: "stdout" };
}

/**
 * Creates an independent logger tree with its own sinks and level.
 *
 * @param config Level, format and output.
 * @param options `sinks` to use instead of the configured output.
 * @returns The root logger; close it when done.
 * @throws {TypeError | RangeError} On invalid config.
 * @throws {Error} When the output file cannot be opened.
 *
 * @example A private tree
 * ```ts
 * import { create, memorySink } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySink();
 * using logger = create({ level: "warn", format: "json", output: "stdout" }, { sinks: [sink] });
 * logger.info("dropped");
 * logger.warn("kept");
 * assert.deepEqual(sink.records.map((r) => r.msg), ["kept"]);
 * ```
 */
export function create(config: ClogConfig, options?: CreateOptions): RootLogger {
  return rootLogger(createCore(config, options));
}

// Until init() is called, the global tree logs JSON at info level to stdout.
const globalCore = createCore(defaultConfig("production"));
const globalRoot: RootLogger = rootLogger(globalCore);

/**
 * Configures the global logger tree. Loggers taken before `init` follow the
 * new level, sinks and root namespace; the previous sinks are flushed and closed.
 *
 * @param config Level, format, output and root namespace.
 * @param options `sinks` to use instead of the configured output.
 * @throws {TypeError | RangeError} On invalid config; the previous setup stays.
 * @throws {Error} When the output file cannot be opened; the previous setup stays.
 */
export function init(config: ClogConfig, options?: CreateOptions): void {
  replaceCore(globalCore, createCore(config, options));
}

/**
 * A logger of the global tree under `name` (`namespace("im").namespace("repo")` is `im.repo`).
 *
 * @param name Namespace segment.
 * @returns The logger.
 */
export function namespace(name: string): Logger {
  return globalRoot.namespace(name);
}

/**
 * The root logger of the global tree.
 *
 * @returns The root logger.
 */
export function root(): RootLogger {
  return globalRoot;
}

/**
 * Changes the global threshold at run time.
 *
 * @param level The new lowest level written.
 * @throws {RangeError} On an unknown level.
 */
export function setLevel(level: Level): void {
  globalRoot.setLevel(level);
}

/**
 * Makes the level follow `/config/{env}/{service}/clog` (`{"level": "debug"}`, the Go kit's
 * `LogConfig`) in the config center: each accepted change applies at once to the whole tree
 * (the global one unless `options.logger` names another); a bad value is refused, the last good
 * level kept and the reason logged.
 *
 * @param coord A coord provider.
 * @param options `env` and `service` of the key, and the logger tree.
 * @returns A handle that stops following the key.
 * @throws {TypeError} When `env` or `service` is empty or holds a slash.
 *
 * @example Level from the config center
 * ```ts
 * import * as clog from "./mod.ts";
 * import * as coord from "../coord/mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using coordinator = await coord.create(coord.defaultConfig("development"));
 * using logger = clog.create({ level: "info", format: "json", output: "stdout" }, { sinks: [] });
 * await using _watch = await clog.watchLevel(coordinator, { env: "dev", service: "im", logger });
 * await coordinator.config.set("/config/dev/im/clog", { level: "debug" });
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * assert.equal(logger.level, "debug");
 * ```
 */
export function watchLevel(
  coord: LevelConfigSource,
  options: WatchLevelOptions,
): Promise<AsyncDisposable & { close(): Promise<void> }> {
  return watchLevelOf(coord, options, globalRoot);
}

/** Writes out everything the global sinks buffer. */
export function flush(): void {
  globalRoot.flush();
}

/** Flushes and closes the global sinks; later lines are dropped until the next {@linkcode init}. */
export function close(): void {
  globalRoot.close();
}

/** Logs at trace level on the global root logger. */
export function trace(msg: string, fields?: Fields): void {
  globalRoot.trace(msg, fields);
}
/** Logs at debug level on the global root logger. */
export function debug(msg: string, fields?: Fields): void {
  globalRoot.debug(msg, fields);
}
/** Logs at info level on the global root logger. */
export function info(msg: string, fields?: Fields): void {
  globalRoot.info(msg, fields);
}
/** Logs at warn level on the global root logger. */
export function warn(msg: string, fields?: Fields): void {
  globalRoot.warn(msg, fields);
}
/** Logs at error level on the global root logger. */
export function error(msg: string, fields?: Fields): void {
  globalRoot.error(msg, fields);
}
/** Logs at fatal level on the global root logger and flushes; the process keeps running. */
export function fatal(msg: string, fields?: Fields): void {
  globalRoot.fatal(msg, fields);
}
