/**
 * Public types of clog: levels, records, sinks, configuration.
 *
 * @module
 */

/** Severity of a log line, from the most verbose to the most severe. */
export type Level = "trace" | "debug" | "info" | "warn" | "error" | "fatal";

/** All levels in increasing severity. */
export const LEVELS: readonly Level[] = ["trace", "debug", "info", "warn", "error", "fatal"];

/** Numeric severity of each level; a line is written when its value is at or above the threshold. */
export const LEVEL_VALUES: Readonly<Record<Level, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};

/** Structured fields attached to a log line. */
export type Fields = Readonly<Record<string, unknown>>;

/** One log event, as every sink receives it. */
export interface LogRecord {
  /** Milliseconds since the Unix epoch. */
  readonly time: number;
  /** Severity. */
  readonly level: Level;
  /** Dotted namespace of the logger (`im.repo`); empty for the root logger. */
  readonly namespace: string;
  /** The message. */
  readonly msg: string;
  /** Trace id of the active span or the surrounding {@linkcode withTrace} scope, if any. */
  readonly traceId: string | undefined;
  /** Span id of the active span or the surrounding {@linkcode withTrace} scope, if known. */
  readonly spanId?: string;
  /** `dir/file.ts:line` of the call, with `caller: true`. */
  readonly caller?: string;
  /** Fields bound to the logger with `with()`; shared by every record of that logger. */
  readonly bound: Fields;
  /** Fields given at the call site; a call-site field overrides a bound one of the same name. */
  readonly fields: Fields;
}

/**
 * A destination for log records. A sink must not throw; if it does, clog
 * reports the failure once on stderr and keeps logging to the other sinks.
 */
export interface Sink {
  /** Receives one record. */
  (record: LogRecord): void;
  /** Writes out anything buffered. Called by `flush()`, by `fatal` and at process exit. */
  flush?(): void;
  /** Flushes and releases the sink's resources (an open file). */
  close?(): void;
}

/** Where the built-in writer sends its lines. */
export type Output = "stdout" | "stderr" | { readonly file: string };

/** Line format of the built-in writer. */
export type Format = "json" | "console";

/** Static configuration of a logger tree. */
export interface ClogConfig {
  /**
   * Lowest level written.
   * @default {"info"}
   */
  readonly level: Level;
  /**
   * `json` writes one JSON object per line; `console` writes a readable, optionally colored line.
   * @default {"json"}
   */
  readonly format: Format;
  /**
   * `stdout`, `stderr`, or `{ file }` to append to a file (created when missing).
   * @default {"stdout"}
   */
  readonly output: Output;
  /**
   * Color the console format. Defaults to on when the output is a terminal and `NO_COLOR` is unset.
   */
  readonly color?: boolean;
  /**
   * Bytes to collect before writing. 0 writes every line at once; a larger buffer is flushed when
   * full, every `flushIntervalMs`, on `fatal`, on `flush()`/`close()` and at process exit.
   * @default {0}
   */
  readonly bufferBytes?: number;
  /**
   * With a buffer, the longest time a line waits before it is written.
   * @default {1000}
   */
  readonly flushIntervalMs?: number;
  /**
   * Namespace of the root logger (usually the service name); children are prefixed with it.
   * @default {""}
   */
  readonly namespace?: string;
  /**
   * Field paths whose values are replaced by `[redacted]` before any sink sees them:
   * `"user.email"`, `"*.phone"` (`*` is any one key), `"headers.x-api-key"`.
   * @default {[]}
   */
  readonly redact?: readonly string[];
  /**
   * Redact credentials wherever they are: fields named like one (`password`, `token`,
   * `authorization`, `apiKey`, `cookie`, `secret` …, at any depth) and the password of a
   * `scheme://user:password@host` in a string.
   * @default {true}
   */
  readonly redactCredentials?: boolean;
  /**
   * Record the caller's `dir/file.ts:line` (`caller` in JSON). It costs a stack trace per line.
   * @default {false}
   */
  readonly caller?: boolean;
}
