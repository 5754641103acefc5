/**
 * Statements on a postgres.js client or reserved connection, as the kit's `DbExecutor`:
 * tagged-template fast path, cancel on abort, one resend after a dropped session's goodbye.
 *
 * @module
 */
import type postgres from "postgres";
import { databaseError, normalizeParams } from "../../db/driver.ts";
import type { DbExecutor, QueryResult } from "../../db/driver.ts";

/** A postgres.js client (pool). */
export type Sql = ReturnType<typeof postgres>;

/** A postgres.js query in flight. */
type PendingQuery = Promise<unknown[] & { count?: number }> & { cancel(): unknown };

/** A postgres.js client called as a tag. */
type TaggedClient = (strings: TemplateStringsArray, ...values: unknown[]) => PendingQuery;

/** Sends PostgreSQL's cancel request for `pending` when `signal` aborts before it settles. */
function cancelOnAbort(pending: PendingQuery, signal: AbortSignal): void {
  const cancel = () => void pending.cancel();
  if (signal.aborted) return cancel();
  signal.addEventListener("abort", cancel, { once: true });
  const forget = () => signal.removeEventListener("abort", cancel);
  pending.then(forget, forget);
}

/**
 * Template-strings arrays by statement text. postgres.js's tagged-template path is faster than
 * unsafe(), and it keys its per-statement work on the identity of this array, so each distinct
 * statement keeps one array.
 */
const templates = new Map<string, TemplateStringsArray>();

function templateFor(text: string, parts: readonly string[]): TemplateStringsArray {
  // A call site's own template strings are already one stable array per statement.
  if (Array.isArray((parts as TemplateStringsArray).raw)) return parts as TemplateStringsArray;
  let strings = templates.get(text);
  if (!strings) {
    if (templates.size >= 4096) templates.clear();
    strings = Object.freeze(
      Object.assign([...parts], { raw: Object.freeze([...parts]) }),
    ) as unknown as TemplateStringsArray;
    templates.set(text, strings);
  }
  return strings;
}

/** A postgres.js client or reserved connection, as far as queries go. */
export type Client = Pick<Sql, "unsafe">;

/** postgres.js's result as the kit's: a plain array, like PGlite's, and the row count. */
function toQueryResult(result: unknown[] & { count?: number }): QueryResult {
  // An indexed copy: Array.from takes the iterator path on the subclass, ~0.5 µs for a single row.
  const length = result.length;
  const rows = new Array<Record<string, unknown>>(length);
  for (let i = 0; i < length; i++) rows[i] = result[i] as Record<string, unknown>;
  return { rows, rowCount: result.count ?? length };
}

/**
 * Whether a statement failed with the goodbye of a server that dropped an earlier session on the
 * same pooled connection, before the statement was sent. postgres.js 3.4 keeps a FATAL error
 * (57P01–57P03) that arrived during a statement whose connection then closed, and rejects the
 * first statement after the reconnect with it; a statement that was running when its connection
 * closed fails with CONNECTION_CLOSED instead. So such a statement never ran and can be sent again.
 */
export function neverSent(error: unknown): boolean {
  const { code, severity } = error as { code?: unknown; severity?: unknown };
  return severity === "FATAL" && (code === "57P01" || code === "57P02" || code === "57P03");
}

/**
 * Statements on `client`. A pool's (`pooled`) are sent once more after {@linkcode neverSent};
 * a reserved connection's are not, as a reservation never reconnects.
 */
export function executor(client: Client, pooled: boolean): DbExecutor {
  const send = (
    text: string,
    params: readonly unknown[],
    parts: readonly string[] | undefined,
    signal: AbortSignal | undefined,
  ): PendingQuery => {
    const pending = parts
      ? (client as unknown as TaggedClient)(templateFor(text, parts), ...normalizeParams(params))
      : client.unsafe(text, normalizeParams(params) as never[], { prepare: true }) as PendingQuery;
    if (signal) cancelOnAbort(pending, signal);
    return pending;
  };
  return {
    query(
      text: string,
      params: readonly unknown[],
      parts?: readonly string[],
      signal?: AbortSignal,
    ): Promise<QueryResult> {
      // Plain .then chaining: this is the hot path.
      const fail = (error: unknown): never => {
        throw databaseError("postgres", "query", error, text);
      };
      return send(text, params, parts, signal).then(
        toQueryResult,
        (error) =>
          pooled && neverSent(error) && !signal?.aborted
            ? send(text, params, parts, signal).then(toQueryResult, fail)
            : fail(error),
      );
    },
    async exec(script: string): Promise<void> {
      // Without parameters postgres.js uses the simple protocol, which runs several statements.
      const run = () => client.unsafe(script);
      try {
        await run().then(
          undefined,
          (error) => pooled && neverSent(error) ? run() : Promise.reject(error),
        );
      } catch (error) {
        throw databaseError("postgres", "exec", error, script);
      }
    },
  };
}
