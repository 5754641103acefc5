/**
 * The shared services a test run was given through `KIT_*` environment variables.
 *
 * @module
 */

/** Services a conformance suite can run against. */
export type ServiceName = "redis" | "etcd" | "postgres" | "kafka" | "nats" | "es" | "otlp";

const VARIABLES: Readonly<Record<ServiceName, string>> = {
  redis: "KIT_REDIS_URL",
  etcd: "KIT_ETCD_ENDPOINTS",
  postgres: "KIT_POSTGRES_URL",
  kafka: "KIT_KAFKA_BROKERS",
  nats: "KIT_NATS_URL",
  es: "KIT_ES_URL",
  otlp: "KIT_OTLP_URL",
};

/**
 * The address of a shared service from its `KIT_*` variable. Suites pass
 * `ignore: serviceUrl(name) === undefined` and put `[name]` in their test
 * names, so a run without the service reports them as ignored, and `.ci/run`
 * fails when a service it started had its suites ignored.
 *
 * @param name The service.
 * @returns The URL (or comma-separated endpoints), or undefined when unset.
 *
 * @example
 * ```ts
 * import { serviceUrl } from "./services.ts";
 * import assert from "node:assert/strict";
 *
 * const url = serviceUrl("redis");
 * assert.ok(url === undefined || url.startsWith("redis"));
 * ```
 */
export function serviceUrl(name: ServiceName): string | undefined {
  const value = Deno.env.get(VARIABLES[name])?.trim();
  return value ? value : undefined;
}
