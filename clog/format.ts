/**
 * Line formats: one JSON object per line for production, a readable colored
 * line for development. Formatting never throws: values that JSON cannot hold
 * (bigint, cycles, errors) are converted instead.
 *
 * @module
 */
import type { Fields, Level, LogRecord } from "./types.ts";

/** Turns a record into one line of text, ending in `\n`. */
export type Formatter = (record: LogRecord) => string;

const RESERVED = new Set(["time", "level", "namespace", "msg", "trace_id", "span_id", "caller"]);
const MAX_DEPTH = 10;

/**
 * Converts an error into a plain object with name, message, stack, its own
 * enumerable properties (such as `code`), the cause chain and, for an
 * `AggregateError`, the inner errors.
 *
 * @param error The error to convert.
 * @returns A JSON-safe object.
 *
 * @example Cause chain
 * ```ts
 * import { serializeError } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const error = new Error("query failed", { cause: new Error("socket closed") });
 * const plain = serializeError(error) as { message: string; cause: { message: string } };
 * assert.equal(plain.message, "query failed");
 * assert.equal(plain.cause.message, "socket closed");
 * ```
 */
export function serializeError(error: Error): Record<string, unknown> {
  return toJsonSafe(error, []) as Record<string, unknown>;
}

function errorToPlain(error: Error, ancestors: unknown[]): Record<string, unknown> {
  const plain: Record<string, unknown> = { name: error.name, message: error.message };
  if (error.stack !== undefined) plain.stack = error.stack;
  for (const key of Object.keys(error)) {
    if (!(key in plain)) plain[key] = toJsonSafe((error as unknown as Fields)[key], ancestors);
  }
  if (error.cause !== undefined) plain.cause = toJsonSafe(error.cause, ancestors);
  if (error instanceof AggregateError) plain.errors = toJsonSafe(error.errors, ancestors);
  return plain;
}

/** Converts any value into one `JSON.stringify` accepts without throwing or losing errors. */
function toJsonSafe(value: unknown, ancestors: unknown[]): unknown {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "function":
      return `[Function ${value.name || "anonymous"}]`;
    case "symbol":
      return value.toString();
    case "object":
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return "[Circular]";
  if (ancestors.length >= MAX_DEPTH) return "[Too deep]";
  ancestors.push(value);
  try {
    if (value instanceof Error) return errorToPlain(value, ancestors);
    const withToJson = value as { toJSON?: () => unknown };
    if (typeof withToJson.toJSON === "function") return toJsonSafe(withToJson.toJSON(), ancestors);
    if (Array.isArray(value)) return value.map((item) => toJsonSafe(item, ancestors));
    if (value instanceof Map) return toJsonSafe(Object.fromEntries(value), ancestors);
    if (value instanceof Set) return toJsonSafe([...value], ancestors);
    const plain: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      plain[key] = toJsonSafe((value as Fields)[key], ancestors);
    }
    return plain;
  } catch (error) {
    return `[Unserializable: ${error instanceof Error ? error.message : String(error)}]`;
  } finally {
    ancestors.pop();
  }
}

/** JSON text of one field value; the fast paths avoid any allocation beyond the string. */
function valueJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? "" + value : `"${value}"`;
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return `"${value}"`;
    case "undefined":
      return "null";
    default:
      return JSON.stringify(toJsonSafe(value, [])) ?? "null";
  }
}

function fieldsJson(fields: Fields, skip: Fields | undefined): string {
  let out = "";
  for (const key in fields) {
    if (skip !== undefined && key in skip) continue;
    const value = fields[key];
    if (value === undefined) continue;
    // A field named like a line key would produce a duplicate JSON key; it is prefixed instead.
    const name = RESERVED.has(key) ? "field_" + key : key;
    out += "," + JSON.stringify(name) + ":" + valueJson(value);
  }
  return out;
}

/** ISO-8601 time, computed once per second and completed with the milliseconds. */
function isoTimeCache(): (time: number) => string {
  let second = -1;
  let prefix = "";
  return (time) => {
    const currentSecond = Math.floor(time / 1000);
    if (currentSecond !== second) {
      second = currentSecond;
      prefix = new Date(currentSecond * 1000).toISOString().slice(0, 20);
    }
    const ms = time - currentSecond * 1000;
    return prefix + (ms < 10 ? "00" + ms : ms < 100 ? "0" + ms : ms) + "Z";
  };
}

/**
 * Creates the JSON line formatter: `time` (ISO-8601, UTC), `level`,
 * `namespace`, `msg`, `trace_id` and `span_id` when set, then bound and call-site fields.
 *
 * @returns The formatter. It caches per logger, so create one per sink.
 *
 * @example One line
 * ```ts
 * import { jsonFormatter } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const line = jsonFormatter()({
 *   time: 0, level: "info", namespace: "im.repo", msg: "saved", traceId: "t1",
 *   bound: { shard: 3 }, fields: { id: 7n },
 * });
 * assert.deepEqual(JSON.parse(line), {
 *   time: "1970-01-01T00:00:00.000Z", level: "info", namespace: "im.repo",
 *   msg: "saved", trace_id: "t1", shard: 3, id: "7",
 * });
 * ```
 */
export function jsonFormatter(): Formatter {
  const isoTime = isoTimeCache();
  // Namespaces and bound fields are serialized once, not once per line.
  const namespaces = new Map<string, string>();
  const namespaceJson = (namespace: string): string => {
    let json = namespaces.get(namespace);
    if (json === undefined) {
      if (namespaces.size >= 1024) namespaces.clear();
      json = ',"namespace":' + JSON.stringify(namespace) + ',"msg":';
      namespaces.set(namespace, json);
    }
    return json;
  };
  const boundCache = new WeakMap<Fields, string>();
  const boundJson = (bound: Fields, fields: Fields): string => {
    if (fields !== EMPTY_FIELDS) {
      for (const key in fields) {
        // A call-site field overrides a bound one: serialize the bound set without it.
        if (key in bound) return fieldsJson(bound, fields);
      }
    }
    let json = boundCache.get(bound);
    if (json === undefined) {
      json = fieldsJson(bound, undefined);
      boundCache.set(bound, json);
    }
    return json;
  };
  return (record) => {
    let line = '{"time":"' + isoTime(record.time) + '","level":"' + record.level + '"' +
      namespaceJson(record.namespace) + JSON.stringify(record.msg);
    if (record.traceId !== undefined) line += ',"trace_id":' + JSON.stringify(record.traceId);
    if (record.spanId !== undefined) line += ',"span_id":' + JSON.stringify(record.spanId);
    if (record.caller !== undefined) line += ',"caller":' + JSON.stringify(record.caller);
    if (record.bound !== EMPTY_FIELDS) line += boundJson(record.bound, record.fields);
    if (record.fields !== EMPTY_FIELDS) line += fieldsJson(record.fields, undefined);
    return line + "}\n";
  };
}

/** The shared empty field set; formatters skip it without iterating. */
export const EMPTY_FIELDS: Fields = Object.freeze({});

const COLORS: Readonly<Record<Level, string>> = {
  trace: "\x1b[90m",
  debug: "\x1b[36m",
  info: "\x1b[32m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
  fatal: "\x1b[1;35m",
};
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

function consoleValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "bigint") return value.toString();
  return valueJson(value);
}

function errorStacks(fields: Fields, indent: string): string {
  let out = "";
  for (const key in fields) {
    let value = fields[key];
    let prefix = key + ": ";
    while (value instanceof Error) {
      const stack = value.stack ?? `${value.name}: ${value.message}`;
      out += "\n" + indent + prefix + stack.replaceAll("\n", "\n" + indent);
      value = value.cause;
      prefix = "caused by: ";
    }
  }
  return out;
}

/**
 * Creates the readable development format:
 * `23:34:11.123 INFO  im.repo saved id=7 trace_id=t1`, with errors' stacks
 * and causes on the following lines.
 *
 * @param options `color` turns ANSI colors on.
 * @returns The formatter.
 *
 * @example Without color
 * ```ts
 * import { consoleFormatter } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const line = consoleFormatter({ color: false })({
 *   time: 0, level: "warn", namespace: "im", msg: "slow", traceId: undefined,
 *   bound: {}, fields: { ms: 120 },
 * });
 * assert.equal(line, "00:00:00.000 WARN  im slow ms=120\n");
 * ```
 */
export function consoleFormatter(options: { color: boolean }): Formatter {
  const { color } = options;
  return (record) => {
    const time = new Date(record.time).toISOString().slice(11, 23);
    const level = record.level.toUpperCase().padEnd(5);
    let line = color
      ? `${DIM}${time}${RESET} ${COLORS[record.level]}${level}${RESET}`
      : `${time} ${level}`;
    if (record.namespace) line += " " + (color ? DIM + record.namespace + RESET : record.namespace);
    line += " " + record.msg;
    const merged = record.bound === EMPTY_FIELDS
      ? record.fields
      : { ...record.bound, ...record.fields };
    for (const key in merged) {
      if (merged[key] === undefined) continue;
      const pair = key + "=" + consoleValue(merged[key]);
      line += " " + (color ? DIM + pair + RESET : pair);
    }
    if (record.traceId !== undefined) {
      const pair = "trace_id=" + record.traceId;
      line += " " + (color ? DIM + pair + RESET : pair);
    }
    if (record.spanId !== undefined) {
      const pair = "span_id=" + record.spanId;
      line += " " + (color ? DIM + pair + RESET : pair);
    }
    if (record.caller !== undefined) {
      const pair = "caller=" + record.caller;
      line += " " + (color ? DIM + pair + RESET : pair);
    }
    return line + errorStacks(merged, "    ") + "\n";
  };
}
