/**
 * db's configuration: the recommended one per environment, and the checks `create` runs on
 * what it is given.
 *
 * @module
 */
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import type { DbConfig, DbDriver } from "./types.ts";

/**
 * The recommended configuration: pools of 5 (development) or 10 (production),
 * 30 s idle and statement timeouts, statements of 200 ms and more logged as slow, replicas
 * (when given) probed every second.
 * No address: PGlite needs none; give `url` (or host, …) for PostgreSQL.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): DbConfig {
  const poolSize = requireEnv("db", env) === "development" ? 5 : 10;
  return {
    poolSize,
    idleTimeoutMs: 30_000,
    statementTimeoutMs: 30_000,
    slowQueryMs: 200,
    replicaProbeIntervalMs: 1000,
  };
}

const CONFIG_KEYS = [
  "url",
  "host",
  "port",
  "database",
  "user",
  "password",
  "replicas",
  "replicaProbeIntervalMs",
  "poolSize",
  "idleTimeoutMs",
  "statementTimeoutMs",
  "slowQueryMs",
  "dataDir",
] as const satisfies readonly (keyof DbConfig)[];
// Keys that address a server, which the default in-process driver (PGlite) would ignore.
const SERVER_KEYS = ["url", "host", "port", "user", "password", "replicas"] as const;

/**
 * Refuses an unknown key, a bad number, URL or port, and a server address without a driver.
 *
 * @throws {TypeError | RangeError} Naming the field, the value and what is allowed.
 */
export function validateConfig(config: DbConfig, driver: DbDriver | undefined): void {
  const tlsHint = "TLS is a driver option: postgresDb({ url, tls: { ca } })";
  checkConfig("db", config, CONFIG_KEYS, { hints: { ssl: tlsHint, tls: tlsHint } });
  for (const field of ["poolSize", "idleTimeoutMs", "statementTimeoutMs", "slowQueryMs"] as const) {
    const value = config[field];
    const min = field === "poolSize" ? 1 : 0;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(
        `Cannot create db as '${field}' must be an integer of at least ${min}: current value is ${value}`,
      );
    }
  }
  const probe = config.replicaProbeIntervalMs;
  if (probe !== undefined && (!Number.isSafeInteger(probe) || probe < 10)) {
    throw new RangeError(
      `Cannot create db as 'replicaProbeIntervalMs' must be an integer of at least 10: current value is ${probe}`,
    );
  }
  for (const url of [config.url, ...(config.replicas ?? [])]) {
    if (url !== undefined && !/^postgres(ql)?:\/\//.test(url)) {
      throw new TypeError(
        `Cannot create db as a URL must start with postgres://: current value is ${
          JSON.stringify(url)
        }`,
      );
    }
  }
  if (
    config.port !== undefined &&
    (!Number.isSafeInteger(config.port) || config.port <= 0 || config.port > 65535)
  ) {
    throw new RangeError(
      `Cannot create db as 'port' must be from 1 to 65535: current value is ${config.port}`,
    );
  }
  const server = SERVER_KEYS.filter((key) => config[key] !== undefined);
  if (driver === undefined && server.length > 0) {
    throw new TypeError(
      `Cannot create db as ${server.map((key) => `'${key}'`).join(", ")} ${
        server.length === 1 ? "names" : "name"
      } a PostgreSQL server but no driver was given, so the data would live in this process's memory (PGlite): pass { driver: postgresDb() } from "@gochat/kit/drivers/postgres"`,
    );
  }
}
