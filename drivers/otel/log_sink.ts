/**
 * `otelLogSink`: clog records into OpenTelemetry's log pipeline, with their severity, fields as
 * attributes and the trace they were written in.
 *
 * @module
 */
import type { Fields, Level, LogRecord, Sink } from "../../clog/mod.ts";
import { jsonFormatter } from "../../clog/format.ts";
import { activeContext } from "../../internal/otel.ts";

/** A log record as the OpenTelemetry logs API takes it (`@opentelemetry/api-logs`). */
export interface OtelLogRecord {
  /** When the line was written, in ms since the Unix epoch. */
  timestamp: number;
  /** 1 trace, 5 debug, 9 info, 13 warn, 17 error, 21 fatal. */
  severityNumber: number;
  /** The level, upper case. */
  severityText: string;
  /** The message. */
  body: string;
  /** `log.namespace` and the fields. */
  attributes: Record<string, string | number | boolean>;
  /** The context the record was written in: the SDK takes its span for trace correlation. */
  context?: unknown;
}

/** The part of an OpenTelemetry `LoggerProvider` the sink uses; the SDK's is one. */
export interface OtelLoggerProvider {
  /** The logger of an instrumentation scope. */
  getLogger(name: string, version?: string): { emit(record: OtelLogRecord): void };
}

/** Options of {@linkcode otelLogSink}. */
export interface OtelLogSinkOptions {
  /**
   * The provider to emit to: the SDK's `LoggerProvider`; by default the one registered with
   * `@opentelemetry/api-logs`, else Deno's built-in pipeline (`OTEL_DENO=true`).
   */
  readonly loggerProvider?: OtelLoggerProvider;
  /**
   * Name of the logger (the instrumentation scope).
   * @default {"@gochat/kit"}
   */
  readonly loggerName?: string;
}

/** Severity numbers of the OpenTelemetry log data model. */
const SEVERITY: Readonly<Record<Level, number>> = {
  trace: 1,
  debug: 5,
  info: 9,
  warn: 13,
  error: 17,
  fatal: 21,
};
const CONSOLE: Readonly<Record<Level, "debug" | "info" | "warn" | "error">> = {
  trace: "debug",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  fatal: "error",
};
const LOGS_API_KEY = Symbol.for("io.opentelemetry.js.api.logs");
const TRACE_API_KEY = Symbol.for("opentelemetry.js.api.1");

function registeredProvider(): OtelLoggerProvider | undefined {
  const getter = (globalThis as Record<symbol, unknown>)[LOGS_API_KEY];
  // `@opentelemetry/api-logs` registers a getter taking its compatibility version.
  return typeof getter === "function" ? getter(1) as OtelLoggerProvider : undefined;
}

/** Whether Deno's built-in SDK is the registered one (`OTEL_DENO=true`): it exports console. */
function denoPipeline(): boolean {
  const telemetry = (Deno as { telemetry?: { tracerProvider?: unknown } }).telemetry;
  const registration = (globalThis as Record<symbol, { trace?: unknown } | undefined>)[
    TRACE_API_KEY
  ];
  return telemetry?.tracerProvider !== undefined &&
    registration?.trace === telemetry.tracerProvider;
}

function attributeValue(value: unknown): string | number | boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value, (_key, item) => typeof item === "bigint" ? item.toString() : item);
  } catch {
    return String(value);
  }
}

function attributesOf(record: LogRecord): OtelLogRecord["attributes"] {
  const attributes: OtelLogRecord["attributes"] = {};
  if (record.namespace) attributes["log.namespace"] = record.namespace;
  const add = (fields: Fields) => {
    for (const key in fields) {
      const value = attributeValue(fields[key]);
      if (value !== undefined) attributes[key] = value;
    }
  };
  add(record.bound);
  add(record.fields);
  return attributes;
}

/**
 * A clog sink that sends each record to OpenTelemetry's log pipeline: severity from the level,
 * the message as body, namespace and fields as attributes (objects as JSON, errors as
 * `name: message`), and the active context, so the record carries the trace and span it was
 * written in.
 *
 * Under Deno's built-in SDK (`OTEL_DENO=true`), which exports what the console writes and has no
 * logs API of its own, each record is written with the console method of its severity as one
 * JSON line (the line clog's JSON format makes); Deno attaches the trace and span, and prints it
 * too unless `OTEL_DENO_CONSOLE=replace`. Use it there instead of the stdout output.
 *
 * @param options The provider and logger name.
 * @returns The sink.
 * @throws {Error} When no log pipeline is registered and none is given.
 *
 * @example Logs into OpenTelemetry
 * ```ts ignore
 * import { clog } from "@gochat/kit";
 * import { otelLogSink } from "@gochat/kit/drivers/otel";
 *
 * // OTEL_DENO=true OTEL_DENO_CONSOLE=replace deno run -A main.ts
 * clog.init(clog.defaultConfig("production"), { sinks: [otelLogSink()] });
 * ```
 */
export function otelLogSink(options: OtelLogSinkOptions = {}): Sink {
  const provider = options.loggerProvider ?? registeredProvider();
  if (provider === undefined) {
    if (!denoPipeline()) {
      throw new Error(
        "Cannot create otelLogSink as no OpenTelemetry log pipeline is registered: run with " +
          "OTEL_DENO=true (Deno's built-in SDK), register the SDK's LoggerProvider with " +
          "@opentelemetry/api-logs, or pass 'loggerProvider'",
      );
    }
    const format = jsonFormatter();
    return (record) => console[CONSOLE[record.level]](format(record).trimEnd());
  }
  const logger = provider.getLogger(options.loggerName ?? "@gochat/kit");
  return (record) =>
    logger.emit({
      timestamp: record.time,
      severityNumber: SEVERITY[record.level],
      severityText: record.level.toUpperCase(),
      body: record.msg,
      attributes: attributesOf(record),
      context: activeContext(),
    });
}
