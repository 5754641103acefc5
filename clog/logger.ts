/**
 * Loggers: namespaces, bound fields, the level check and dispatch to sinks.
 *
 * @module
 */
import { checkConfig } from "../internal/config.ts";
import { traceContext } from "./context.ts";
import { consoleFormatter, EMPTY_FIELDS, jsonFormatter } from "./format.ts";
import { reportSinkFailure, writerSink } from "./sinks.ts";
import { type Redactor, redactor } from "./redact.ts";
import type { SyncWriter } from "./sinks.ts";
import {
  type ClogConfig,
  type Fields,
  type Level,
  LEVEL_VALUES,
  LEVELS,
  type LogRecord,
  type Sink,
} from "./types.ts";

/** A logger bound to a namespace and a set of fields. */
export interface Logger {
  /** Dotted namespace of this logger; empty for the root. */
  readonly name: string;
  /**
   * A child logger whose namespace is this one's plus `name` (`im` → `im.repo`).
   *
   * @param name Non-empty segment without dots at either end.
   */
  namespace(name: string): Logger;
  /** A child logger that adds `fields` to every line it writes. */
  with(fields: Fields): Logger;
  /** Whether a line at `level` would currently be written. */
  enabled(level: Level): boolean;
  /** Logs at trace level. */
  trace(msg: string, fields?: Fields): void;
  /** Logs at debug level. */
  debug(msg: string, fields?: Fields): void;
  /** Logs at info level. */
  info(msg: string, fields?: Fields): void;
  /** Logs at warn level. */
  warn(msg: string, fields?: Fields): void;
  /** Logs at error level. */
  error(msg: string, fields?: Fields): void;
  /** Logs at fatal level and flushes every sink. It does not exit the process. */
  fatal(msg: string, fields?: Fields): void;
}

/** The root of a logger tree: owns the sinks and the level. */
export interface RootLogger extends Logger, Disposable {
  /** The current threshold. */
  readonly level: Level;
  /** Changes the threshold for every logger of the tree, at once. */
  setLevel(level: Level): void;
  /** Writes out every sink's buffer. */
  flush(): void;
  /** Flushes and closes the sinks; later lines are dropped. */
  close(): void;
}

/** Dependencies of a logger tree. */
export interface CreateOptions {
  /** Sinks that replace the writer built from `config.output` and `config.format`. */
  readonly sinks?: readonly Sink[];
}

/** Mutable state shared by every logger of one tree, so a level change reaches them all at once. */
class Core {
  min: number;
  level: Level;
  sinks: readonly Sink[];
  /** Namespace of the root logger; every name in the tree starts with it. */
  prefix: string;
  /** Bumped whenever `prefix` changes, so loggers know to recompute their full name. */
  generation = 0;
  /** Redacts fields before the sinks see them; undefined when nothing is redacted. */
  redact: Redactor | undefined;
  /** Bound field sets, redacted once each. */
  redactedBound = new WeakMap<Fields, Fields>();
  /** Record the caller's `file:line`. */
  caller: boolean;

  constructor(
    level: Level,
    sinks: readonly Sink[],
    prefix: string,
    redact: Redactor | undefined,
    caller: boolean,
  ) {
    this.level = level;
    this.min = LEVEL_VALUES[level];
    this.sinks = sinks;
    this.prefix = prefix;
    this.redact = redact;
    this.caller = caller;
  }

  /** `bound` as the sinks may see it. */
  boundFields(bound: Fields): Fields {
    if (this.redact === undefined || bound === EMPTY_FIELDS) return bound;
    let redacted = this.redactedBound.get(bound);
    if (redacted === undefined) this.redactedBound.set(bound, redacted = this.redact(bound));
    return redacted;
  }

  emit(record: LogRecord): void {
    for (const sink of this.sinks) {
      try {
        sink(record);
      } catch (error) {
        reportSinkFailure(error);
      }
    }
  }

  flush(): void {
    for (const sink of this.sinks) {
      try {
        sink.flush?.();
      } catch (error) {
        reportSinkFailure(error);
      }
    }
  }

  close(): void {
    this.flush();
    for (const sink of this.sinks) {
      try {
        sink.close?.();
      } catch (error) {
        reportSinkFailure(error);
      }
    }
    this.sinks = [];
  }
}

const THIS_MODULE = import.meta.url;

/** `dir/file.ts:line` of the first stack frame outside this module: who called the logger. */
function callerOf(): string | undefined {
  const stack = new Error().stack ?? "";
  for (const frame of stack.split("\n").slice(1)) {
    if (frame.includes(THIS_MODULE)) continue;
    const match = /\(?([^()\s]+):(\d+):\d+\)?\s*$/.exec(frame);
    if (!match) continue;
    const parts = match[1].split("/");
    return `${parts.slice(-2).join("/")}:${match[2]}`;
  }
  return undefined;
}

const TRACE = LEVEL_VALUES.trace;
const DEBUG = LEVEL_VALUES.debug;
const INFO = LEVEL_VALUES.info;
const WARN = LEVEL_VALUES.warn;
const ERROR = LEVEL_VALUES.error;
const FATAL = LEVEL_VALUES.fatal;

class TreeLogger implements Logger {
  readonly #core: Core;
  /** Namespace below the root's prefix. */
  readonly #relative: string;
  readonly #bound: Fields;
  #name = "";
  #generation = -1;

  constructor(core: Core, relative: string, bound: Fields) {
    this.#core = core;
    this.#relative = relative;
    this.#bound = bound;
  }

  get name(): string {
    const core = this.#core;
    if (this.#generation !== core.generation) {
      this.#generation = core.generation;
      this.#name = core.prefix && this.#relative
        ? core.prefix + "." + this.#relative
        : core.prefix || this.#relative;
    }
    return this.#name;
  }

  namespace(name: string): Logger {
    if (
      typeof name !== "string" || name.length === 0 || name.startsWith(".") || name.endsWith(".")
    ) {
      throw new TypeError(
        `Cannot create namespace as 'name' must be a non-empty string without leading or trailing dots: current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    const relative = this.#relative ? this.#relative + "." + name : name;
    return new TreeLogger(this.#core, relative, this.#bound);
  }

  with(fields: Fields): Logger {
    if (fields === null || typeof fields !== "object" || Array.isArray(fields)) {
      throw new TypeError(
        `Cannot bind fields as 'fields' must be a plain object: current value is ${String(fields)}`,
      );
    }
    return new TreeLogger(this.#core, this.#relative, Object.freeze({ ...this.#bound, ...fields }));
  }

  enabled(level: Level): boolean {
    return LEVEL_VALUES[level] >= this.#core.min;
  }

  #emit(level: Level, msg: string, fields: Fields | undefined): void {
    const core = this.#core;
    const trace = traceContext();
    core.emit({
      time: Date.now(),
      level,
      namespace: this.name,
      msg,
      traceId: trace?.traceId,
      spanId: trace?.spanId,
      caller: core.caller ? callerOf() : undefined,
      bound: core.boundFields(this.#bound),
      fields: fields === undefined ? EMPTY_FIELDS : core.redact ? core.redact(fields) : fields,
    });
  }

  trace(msg: string, fields?: Fields): void {
    if (TRACE >= this.#core.min) this.#emit("trace", msg, fields);
  }
  debug(msg: string, fields?: Fields): void {
    if (DEBUG >= this.#core.min) this.#emit("debug", msg, fields);
  }
  info(msg: string, fields?: Fields): void {
    if (INFO >= this.#core.min) this.#emit("info", msg, fields);
  }
  warn(msg: string, fields?: Fields): void {
    if (WARN >= this.#core.min) this.#emit("warn", msg, fields);
  }
  error(msg: string, fields?: Fields): void {
    if (ERROR >= this.#core.min) this.#emit("error", msg, fields);
  }
  fatal(msg: string, fields?: Fields): void {
    if (FATAL >= this.#core.min) this.#emit("fatal", msg, fields);
    this.#core.flush();
  }
}

class Root extends TreeLogger implements RootLogger {
  readonly #core: Core;

  constructor(core: Core) {
    super(core, "", EMPTY_FIELDS);
    this.#core = core;
  }

  get level(): Level {
    return this.#core.level;
  }

  setLevel(level: Level): void {
    requireLevel("set level", level);
    this.#core.level = level;
    this.#core.min = LEVEL_VALUES[level];
  }

  flush(): void {
    this.#core.flush();
  }

  close(): void {
    this.#core.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

const CONFIG_KEYS = [
  "level",
  "format",
  "output",
  "color",
  "bufferBytes",
  "flushIntervalMs",
  "namespace",
  "redact",
  "redactCredentials",
  "caller",
] as const satisfies readonly (keyof ClogConfig)[];

function requireLevel(action: string, level: unknown): asserts level is Level {
  if (!LEVELS.includes(level as Level)) {
    throw new RangeError(
      `Cannot ${action} as 'level' must be one of ${LEVELS.join(", ")}: current value is ${
        JSON.stringify(level)
      }`,
    );
  }
}

/**
 * Checks a configuration and says precisely what is wrong with it.
 *
 * @param config The configuration to check.
 * @throws {TypeError} On an unknown key or a value of the wrong type.
 * @throws {RangeError} On an unknown level or format.
 */
export function validateConfig(config: ClogConfig): void {
  checkConfig("clog", config, CONFIG_KEYS, { action: "init" });
  requireLevel("init clog", config.level);
  if (config.format !== "json" && config.format !== "console") {
    throw new RangeError(
      `Cannot init clog as 'format' must be "json" or "console": current value is ${
        JSON.stringify(config.format)
      }`,
    );
  }
  const output = config.output;
  const isFile = typeof output === "object" && output !== null && typeof output.file === "string" &&
    output.file.length > 0;
  if (output !== "stdout" && output !== "stderr" && !isFile) {
    throw new RangeError(
      `Cannot init clog as 'output' must be "stdout", "stderr" or { file: "<path>" }: current value is ${
        JSON.stringify(output)
      }`,
    );
  }
  if (config.color !== undefined && typeof config.color !== "boolean") {
    throw new TypeError(
      `Cannot init clog as 'color' must be a boolean: current value is ${
        JSON.stringify(config.color)
      }`,
    );
  }
  for (const name of ["redactCredentials", "caller"] as const) {
    if (config[name] !== undefined && typeof config[name] !== "boolean") {
      throw new TypeError(
        `Cannot init clog as '${name}' must be a boolean: current value is ${
          JSON.stringify(config[name])
        }`,
      );
    }
  }
  if (config.redact !== undefined && !Array.isArray(config.redact)) {
    throw new TypeError(
      `Cannot init clog as 'redact' must be an array of field paths: current value is ${
        JSON.stringify(config.redact)
      }`,
    );
  }
  if (config.namespace !== undefined && typeof config.namespace !== "string") {
    throw new TypeError(
      `Cannot init clog as 'namespace' must be a string: current value is ${
        JSON.stringify(config.namespace)
      }`,
    );
  }
}

function openOutput(config: ClogConfig): { writer: SyncWriter; owned: boolean; tty: boolean } {
  const output = config.output;
  if (output === "stdout") {
    return { writer: Deno.stdout, owned: false, tty: Deno.stdout.isTerminal() };
  }
  if (output === "stderr") {
    return { writer: Deno.stderr, owned: false, tty: Deno.stderr.isTerminal() };
  }
  try {
    const file = Deno.openSync(output.file, { append: true, create: true });
    return { writer: file, owned: true, tty: false };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Cannot init clog as output file '${output.file}' cannot be opened for appending: ${reason}`,
      { cause: error },
    );
  }
}

/** Builds the writer sink that `config.output` and `config.format` describe. */
export function outputSink(config: ClogConfig): Sink {
  validateConfig(config);
  const { writer, owned, tty } = openOutput(config);
  const formatter = config.format === "json"
    ? jsonFormatter()
    : consoleFormatter({ color: config.color ?? (tty && !Deno.noColor) });
  try {
    return writerSink(writer, {
      formatter,
      bufferBytes: config.bufferBytes,
      flushIntervalMs: config.flushIntervalMs,
      closeWriter: owned,
    });
  } catch (error) {
    if (owned) writer.close?.();
    throw error;
  }
}

/** A core built from a validated config: the shared state behind one logger tree. */
export function createCore(config: ClogConfig, options: CreateOptions = {}): Core {
  validateConfig(config);
  const redact = redactor(config.redact ?? [], config.redactCredentials ?? true);
  const sinks = options.sinks ? [...options.sinks] : [outputSink(config)];
  return new Core(config.level, sinks, config.namespace ?? "", redact, config.caller ?? false);
}

/** Replaces the level and sinks of `target` with those of `source`, closing the old sinks. */
export function replaceCore(target: Core, source: Core): void {
  const old = target.sinks;
  target.level = source.level;
  target.min = source.min;
  target.sinks = source.sinks;
  target.prefix = source.prefix;
  target.redact = source.redact;
  target.redactedBound = new WeakMap();
  target.caller = source.caller;
  target.generation++;
  for (const sink of old) {
    // A sink handed to init() again stays open.
    if (source.sinks.includes(sink)) continue;
    try {
      sink.flush?.();
      sink.close?.();
    } catch (error) {
      reportSinkFailure(error);
    }
  }
}

/** Wraps a core into a root logger. */
export function rootLogger(core: Core): RootLogger {
  return new Root(core);
}

export type { Core };
