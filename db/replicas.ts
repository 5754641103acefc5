/**
 * Read replicas of a provider: reads round robin over the replicas that answer, falling back to
 * the primary while none does (one warning per outage), a probe that sends reads back to a
 * replica once it answers again, and its lag as a metric.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { DriverError } from "../internal/errors.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { DbExecutor, DbPool, QueryResult } from "./types.ts";

/**
 * Seconds the replica is behind: 0 when it has replayed all the WAL it received (an idle primary
 * sends none, so the age of the last replayed transaction would grow with no lag at all), else
 * the age of the last transaction it replayed; 0 on a server that is not a standby.
 */
const LAG_QUERY = `select (case
  when not pg_is_in_recovery() then 0
  when pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
  else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0)
end)::float8 as lag`;

/** What the replicas of a provider need. */
export interface ReplicaContext {
  /** The primary's pool, for reads while no replica answers. */
  readonly writer: DbPool;
  /** One pool per replica. */
  readonly readers: readonly DbPool[];
  /** The replicas' names for logs and metric labels (`host:port`), by index. */
  readonly names: readonly string[];
  /** Logs an outage (once) and the return of a replica. */
  readonly logger: Logger;
  /** Where lag, state and fallbacks are recorded; lag and state need `gauge`. */
  readonly metrics?: Pick<Metrics, "counter"> & Partial<Pick<Metrics, "gauge">>;
  /** How often down replicas are probed and lag is sampled. */
  readonly probeIntervalMs: number;
}

/** A read replica's state, from `Db.replicas()`. */
export interface ReplicaStatus {
  /** `host:port` of the replica, as in the logs and the `replica` label of the metrics. */
  readonly name: string;
  /**
   * Whether reads go to it: false from a read or probe that found it unreachable until a probe
   * finds it back (while false, its reads run on the primary); as `db_replica_up`.
   */
  readonly up: boolean;
}

/** The replicas of a provider, as one executor for reads. */
export interface ReplicaSet {
  /** Runs a read on the next replica up, or on the primary while none is up. */
  readonly executor: DbExecutor;
  /** Each replica's state, in the order of the config's `replicas`. */
  status(): ReplicaStatus[];
  /** Stops the probe; call before closing the pools, then await the result after. */
  stop(): Promise<void>;
}

/** `host:port` of a replica URL (never its password), for logs and labels. */
export function replicaName(url: string | undefined, index: number): string {
  const authority = url?.replace(/^[^:]*:\/\/([^@/?]*@)?/, "").split(/[/?]/)[0];
  return authority || `replica-${index}`;
}

/**
 * Routes reads over `readers`. A read that fails on a replica with a `DriverError` (connection
 * refused or lost, server shutting down; not an `SqlError`, which the statement itself caused)
 * marks the replica down and runs again on the primary, so no read fails while the primary
 * answers. A down replica is probed (`select 1`) every `probeIntervalMs`, and gets reads again
 * once it answers.
 */
export function replicaSet(context: ReplicaContext): ReplicaSet {
  const { writer, readers, names, logger, metrics, probeIntervalMs } = context;
  const up = readers.map(() => true);
  const downSince = readers.map(() => 0);
  const lag = metrics?.gauge?.("db_replica_lag_seconds", {
    help:
      "Seconds a replica is behind its primary (0 when it has replayed all it received), sampled every replicaProbeIntervalMs.",
    labels: ["replica"],
  });
  const upGauge = metrics?.gauge?.("db_replica_up", {
    help: "1 while reads go to the replica, 0 while it is down and reads go to the primary.",
    labels: ["replica"],
  });
  const fallbacks = metrics?.counter("db_replica_fallback_total", {
    help: "Reads run on the primary because no replica answered.",
  });
  readers.forEach((_, i) => upGauge?.set(1, { replica: names[i] }));
  let stopped = false;

  const markDown = (index: number, error: unknown): void => {
    if (!up[index]) return;
    up[index] = false;
    downSince[index] = Date.now();
    upGauge?.set(0, { replica: names[index] });
    logger.warn("replica unreachable; reads go to the primary until it answers again", {
      replica: names[index],
      error: error instanceof Error ? error.message : String(error),
    });
  };
  const markUp = (index: number): void => {
    if (up[index]) return;
    up[index] = true;
    upGauge?.set(1, { replica: names[index] });
    logger.info("replica answers again; reads go back to it", {
      replica: names[index],
      downMs: Date.now() - downSince[index],
    });
  };

  let next = 0;
  /** The index of the next replica up, round robin, or -1 when none is. */
  const pick = (): number => {
    for (let tries = 0; tries < readers.length; tries++) {
      const index = next++ % readers.length;
      if (up[index]) return index;
    }
    return -1;
  };
  /** Whether a replica's failure is the replica's, not the statement's or the caller's. */
  const unreachable = (error: unknown, signal: AbortSignal | undefined): boolean =>
    error instanceof DriverError && !signal?.aborted && !stopped;

  const onPrimary = <T>(run: () => Promise<T>): Promise<T> => {
    fallbacks?.inc();
    return run();
  };
  const executor: DbExecutor = {
    query(text, params, parts, signal): Promise<QueryResult> {
      const index = pick();
      const primary = () => writer.query(text, params, parts, signal);
      if (index < 0) return onPrimary(primary);
      return readers[index].query(text, params, parts, signal).catch((error) => {
        if (!unreachable(error, signal)) throw error;
        markDown(index, error);
        return onPrimary(primary);
      });
    },
    exec(script): Promise<void> {
      const index = pick();
      const primary = () => writer.exec(script);
      if (index < 0) return onPrimary(primary);
      return readers[index].exec(script).catch((error) => {
        if (!unreachable(error, undefined)) throw error;
        markDown(index, error);
        return onPrimary(primary);
      });
    },
  };

  // Down replicas are probed, and (with a gauge) the lag of the others sampled, each interval.
  const probe = async (index: number): Promise<void> => {
    try {
      if (!up[index]) {
        await readers[index].query("select 1", []);
        markUp(index);
      }
      if (lag && up[index]) {
        const { rows: [row] } = await readers[index].query(LAG_QUERY, []);
        lag.set(Number(row.lag), { replica: names[index] });
      }
    } catch (error) {
      if (unreachable(error, undefined)) markDown(index, error);
    }
  };
  let probing: Promise<unknown> = Promise.resolve();
  let timer: number | undefined;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      probing = Promise.all(readers.map((_, i) => probe(i))).finally(schedule);
    }, probeIntervalMs) as unknown as number;
    // A provider left open must not hold the process.
    Deno.unrefTimer(timer);
  };
  if (readers.length > 0) {
    // The first lag sample at once, so the gauge has a value from the start.
    if (lag) probing = Promise.all(readers.map((_, i) => probe(i))).finally(schedule);
    else schedule();
  }

  return {
    executor,
    status: () => names.map((name, i) => ({ name, up: up[i] })),
    stop() {
      stopped = true;
      clearTimeout(timer);
      return probing.then(() => {}, () => {});
    },
  };
}
