/**
 * A provider's `sql` tags: each bound to a connection (and maybe a signal), timing its queries
 * for the slow-query log and the query metrics of its role.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { turnClock } from "../internal/clock.ts";
import { underSignal } from "../internal/signal.ts";
import type { Metrics } from "../metrics/mod.ts";
import { Query, type QueryRunner, type SqlTag } from "./query.ts";
import { tracedQuery } from "./trace.ts";
import type { DbConfig, DbExecutor } from "./types.ts";

/** Which server a query goes to, as the metrics label it. */
export type Role = "primary" | "replica";

/** Makes a `sql` tag sending to `executor()`, aborted by `signal`, observed under `role`. */
export type TagFor = (
  executor: () => DbExecutor,
  signal?: AbortSignal,
  role?: Role,
) => SqlTag;

/**
 * The tag factory of a provider: slow queries (`config.slowQueryMs`) logged on `logger`,
 * durations and failures recorded on `metrics` by role, each query in a span of `system` (its
 * `db.system`) when an OpenTelemetry SDK is registered.
 */
export function sqlTags(
  config: DbConfig,
  logger: Logger,
  metrics: Pick<Metrics, "counter" | "histogram"> | undefined,
  system: string,
): TagFor {
  const durations = metrics?.histogram("db_query_duration_seconds", {
    help: "Time from sending a query to its result, for queries that succeeded.",
    labels: ["role"],
  });
  const errors = metrics?.counter("db_query_errors_total", {
    help: "Queries that failed.",
    labels: ["role"],
  });
  const timed = config.slowQueryMs > 0 || durations !== undefined;
  // Whole ms read once per microtask turn are enough for slow-query logs; metrics need more.
  const now = durations ? () => performance.now() : turnClock;
  const roleHooks = (role: Role): Pick<QueryRunner, "finished" | "failed"> => {
    const observe = durations?.with({ role });
    const error = errors?.with({ role });
    return {
      finished: (text, startedAt) => {
        const ms = now() - startedAt;
        if (config.slowQueryMs > 0 && ms >= config.slowQueryMs) {
          logger.warn("slow query", { ms: Math.round(ms), statement: text });
        }
        observe?.observe(ms / 1000);
      },
      failed: error && (() => error.inc()),
    };
  };
  const hooks: Record<Role, Pick<QueryRunner, "finished" | "failed">> = {
    primary: roleHooks("primary"),
    replica: roleHooks("replica"),
  };
  return (executor, signal, role = "primary") => {
    // One runner per tag, not a closure per query.
    const runner: QueryRunner = {
      send: signal
        ? (text, params, parts) =>
          underSignal(signal, () => tracedQuery(system, executor(), text, params, parts, signal))
        : (text, params, parts) => tracedQuery(system, executor(), text, params, parts),
      timed,
      now,
      ...hooks[role],
    };
    return <T>(strings: TemplateStringsArray, ...values: unknown[]) =>
      new Query<T>(strings, values, runner);
  };
}
