/**
 * Helpers for the kit's conformance suites and for your own tests against the
 * kit: polling assertions, a fake clock, per-test key namespaces, and
 * throwaway servers for fault tests.
 *
 * @example A fake clock and a unique key prefix
 * ```ts
 * import { FakeClock, testKeyspace } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const clock = new FakeClock(0);
 * clock.advance(10);
 * assert.equal(clock.now(), 10);
 * assert.match(testKeyspace("cache get"), /^kit-test\/.+\/\d+-cache-get\/$/);
 * ```
 *
 * @module
 */
export { eventually } from "./eventually.ts";
export type { EventuallyOptions } from "./eventually.ts";
export { FakeClock } from "./clock.ts";
export type { Clock } from "../internal/clock.ts";
export { RUN_ID, testKeyspace } from "./keyspace.ts";
export { freePort, serverAvailable, startServer } from "./server.ts";
export * from "./etcd_cluster.ts";
export { capturingLogger, quietLogger } from "./logger.ts";
export type { ServerKind, ServerTls, StartServerOptions, ThrowawayServer } from "./server.ts";
export { serviceUrl } from "./services.ts";
export { recordSpans } from "./otel.ts";
export { seededRandom } from "./random.ts";
export type { RecordedSpan, SpanRecorder } from "./otel.ts";
export type { ServiceName } from "./services.ts";
export {
  type PostgresReplica,
  postgresReplicaAvailable,
  startPostgresReplica,
  type StartPostgresReplicaOptions,
} from "./pg_replica.ts";
export {
  type RedisClusterNodeAddress,
  startRedisCluster,
  type StartRedisClusterOptions,
  type ThrowawayRedisCluster,
} from "./redis_cluster.ts";
export {
  type RedisSentinelNodeAddress,
  startRedisSentinel,
  type StartRedisSentinelOptions,
  type ThrowawayRedisSentinel,
} from "./redis_sentinel.ts";
export type { ThrowawayRedisProcesses } from "./redis_processes.ts";
