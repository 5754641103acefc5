/**
 * db's OpenTelemetry spans, made by the provider so every driver gets them alike: one client
 * span per statement (`SELECT users`, `INSERT kit_migrations`, `SAVEPOINT`), named after its
 * first keyword and its table when the text says it plainly, carrying `db.system`, `db.operation`,
 * `db.statement` (the text with its `$n` placeholders, never the bound values) and
 * `db.sql.table` when known. Callers test `kitTracer()` first: without an SDK a statement costs
 * one property read more.
 *
 * @module
 */
import { inSpan, kitTracer, SpanKind } from "../internal/otel.ts";
import type { DbExecutor, QueryResult } from "./types.ts";

type Tracer = NonNullable<ReturnType<typeof kitTracer>>;

/**
 * The `db.system` of a driver: `postgresql` for the PostgreSQL and PGlite drivers (PGlite is
 * PostgreSQL in process), the driver's own name otherwise.
 *
 * @param driverName The driver's `name`.
 * @returns The OpenTelemetry `db.system` value.
 */
export function dbSystem(driverName: string): string {
  return driverName === "postgres" || driverName === "pglite" ? "postgresql" : driverName;
}

/** Leading comments and the first keyword of a statement. */
const FIRST_KEYWORD = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*([A-Za-z]+)/;
/** A table name, maybe schema-qualified, maybe quoted. */
const NAME = String.raw`((?:"[^"]+"|[A-Za-z_][\w$]*)(?:\.(?:"[^"]+"|[A-Za-z_][\w$]*))?)`;
/**
 * Where each operation names its table, when plainly: `select` up to its first `from` outside
 * parentheses (one level: `count(*)`, `extract(year from at)`); a subquery leaves it unknown.
 */
const TABLE: Readonly<Record<string, RegExp>> = {
  SELECT: new RegExp(String.raw`^select\b(?:[^();]|\([^()]*\))*?\bfrom\s+(?:only\s+)?${NAME}`, "i"),
  INSERT: new RegExp(String.raw`^insert\s+into\s+${NAME}`, "i"),
  UPDATE: new RegExp(String.raw`^update\s+(?:only\s+)?${NAME}`, "i"),
  DELETE: new RegExp(String.raw`^delete\s+from\s+(?:only\s+)?${NAME}`, "i"),
};

/**
 * The operation and table a statement names: its first keyword upper-cased, and for `SELECT`,
 * `INSERT`, `UPDATE` and `DELETE` the table when it is plainly there.
 *
 * @param text The statement.
 * @returns `{ operation, table }`; `operation` is `""` for text without a keyword.
 */
export function statementTarget(text: string): { operation: string; table: string | undefined } {
  const first = FIRST_KEYWORD.exec(text);
  if (first === null) return { operation: "", table: undefined };
  const operation = first[1].toUpperCase();
  const table = TABLE[operation]?.exec(text.slice(first[0].length - first[1].length));
  return { operation, table: table ? table[1].replaceAll('"', "") : undefined };
}

/**
 * Runs `send` in a client span for `text`, child of the active span; its failure marks the span.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param system The span's `db.system`, from {@linkcode dbSystem}.
 * @param text The statement with its placeholders.
 * @param send Sends it.
 * @returns What `send` resolves to.
 */
export function statementSpan<T>(
  tracer: Tracer,
  system: string,
  text: string,
  send: () => Promise<T>,
): Promise<T> {
  const { operation, table } = statementTarget(text);
  const attributes: Record<string, string> = {
    "db.system": system,
    "db.statement": text,
    "db.operation": operation,
  };
  if (table !== undefined) attributes["db.sql.table"] = table;
  const name = operation === ""
    ? "query"
    : table === undefined
    ? operation
    : `${operation} ${table}`;
  return inSpan(tracer, name, { kind: SpanKind.CLIENT, attributes }, send);
}

/**
 * `executor.query`, in a span when an SDK is registered.
 *
 * @returns What the driver resolves to.
 */
export function tracedQuery(
  system: string,
  executor: DbExecutor,
  text: string,
  params: readonly unknown[],
  parts?: readonly string[],
  signal?: AbortSignal,
): Promise<QueryResult> {
  const tracer = kitTracer();
  if (tracer === undefined) return executor.query(text, params, parts, signal);
  return statementSpan(tracer, system, text, () => executor.query(text, params, parts, signal));
}

/**
 * `executor.exec`, in a span when an SDK is registered: the script is its `db.statement`.
 *
 * @returns When the script has run.
 */
export function tracedExec(system: string, executor: DbExecutor, script: string): Promise<void> {
  const tracer = kitTracer();
  if (tracer === undefined) return executor.exec(script);
  return statementSpan(tracer, system, script, () => executor.exec(script));
}

/**
 * Runs a transaction in an internal span `transaction`, whose statements are its children.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param system The span's `db.system`.
 * @param run Runs the transaction, retries included.
 * @returns What `run` resolves to.
 */
export function transactionSpan<R>(
  tracer: Tracer,
  system: string,
  run: () => Promise<R>,
): Promise<R> {
  return inSpan(
    tracer,
    "transaction",
    { kind: SpanKind.INTERNAL, attributes: { "db.system": system } },
    run,
  );
}
