/**
 * Reads the settings of cluster mode from the variables the ecosystem already uses, so a service
 * starts against Redis, PostgreSQL, etcd, Kafka and an OpenTelemetry collector without a config
 * file: {@linkcode read} checks them all at once and returns option objects shaped for the
 * drivers. Nothing here opens a connection or imports a driver.
 *
 * | variable | becomes |
 * |---|---|
 * | `KIT_ENV`, else `DENO_ENV` / `NODE_ENV` | `environment`, the argument of every `defaultConfig` |
 * | `OTEL_SERVICE_NAME` | `service`, and `keyPrefix` (`"<service>:"`): cache, once and ratelimit's namespace on a shared Redis |
 * | `REDIS_URL` | `redis`: `redisCache(env.redis)`, `redisOnce(…)`, `redisRateLimit(…)`, `redisMq(…)` |
 * | `DATABASE_URL`, or postgres.js's `PGHOST` `PGPORT` `PGDATABASE` `PGUSER` `PGPASSWORD` | `postgres`: spread into the db config, with `postgresDb()` as driver |
 * | `ETCD_ENDPOINTS`, `ETCD_USERNAME`, `ETCD_PASSWORD` | `etcd`: `etcdCoord(env.etcd)` |
 * | `KAFKA_BROKERS` | `kafka`: `kafkaMq(env.kafka)` |
 * | `OTEL_DENO`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL` | `otel` |
 *
 * A variable set to the empty string counts as unset. Every other `OTEL_*` variable is read by
 * Deno's built-in OpenTelemetry SDK itself, as are the `PG*` variables by postgres.js: this
 * module only reports them so that a service can tell which mode it runs in.
 *
 * Reading `Deno.env` needs `--allow-env` for exactly the names in {@linkcode VARIABLES}.
 *
 * @example Cluster mode from the environment
 * ```ts
 * import { read } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const env = read({
 *   NODE_ENV: "production",
 *   OTEL_SERVICE_NAME: "chat",
 *   REDIS_URL: "redis://10.0.0.7:6379/0",
 *   PGHOST: "10.0.0.8",
 *   KAFKA_BROKERS: "10.0.0.9:9092, 10.0.0.10:9092",
 * });
 * assert.equal(env.environment, "production");
 * assert.equal(env.keyPrefix, "chat:");
 * assert.deepEqual(env.redis, { url: "redis://10.0.0.7:6379/0" });
 * assert.deepEqual(env.postgres, {}); // postgres.js reads PGHOST itself
 * assert.deepEqual(env.kafka, { brokers: ["10.0.0.9:9092", "10.0.0.10:9092"] });
 * assert.equal(env.etcd, undefined); // standalone coord
 * assert.deepEqual(env.otel, { enabled: false });
 * ```
 *
 * @module
 */
import { REDACTED, redactMalformedUrl } from "../internal/redact.ts";

/** Every variable {@linkcode read} looks at: the list to give `--allow-env=`. */
export const VARIABLES: readonly string[] = Object.freeze([
  "KIT_ENV",
  "DENO_ENV",
  "NODE_ENV",
  "OTEL_SERVICE_NAME",
  "REDIS_URL",
  "DATABASE_URL",
  "PGHOST",
  "PGPORT",
  "PGDATABASE",
  "PGUSER",
  "PGPASSWORD",
  "PGSSLMODE",
  "ETCD_ENDPOINTS",
  "ETCD_USERNAME",
  "ETCD_PASSWORD",
  "KAFKA_BROKERS",
  "OTEL_DENO",
  "OTEL_EXPORTER_OTLP_ENDPOINT",
  "OTEL_EXPORTER_OTLP_PROTOCOL",
]);

/** Where {@linkcode read} takes values from: a record of variables, or a lookup by name. */
export type EnvSource =
  | Readonly<Record<string, string | undefined>>
  | ((name: string) => string | undefined);

/** The Redis connection: pass it as the options of a Redis driver. */
export interface KitEnvRedis {
  /**
   * `redis://` or `rediss://` URL, credentials included: the `url` option of `redisCache`,
   * `redisOnce`, `redisRateLimit`, `redisMq` and `redisLock`
   * (`redisCache(env.redis)`, or `redisRateLimit({ ...env.redis, keyPrefix })`).
   */
  readonly url: string;
}

/**
 * The PostgreSQL connection: fields of the db config (not of `postgresDb`'s options), so spread
 * it into the config: `db.create({ ...db.defaultConfig(env.environment), ...env.postgres },
 * { driver: postgresDb() })`.
 */
export interface KitEnvPostgres {
  /**
   * `DATABASE_URL`, for the db config's `url`. Absent when only `PG*` variables are set: the
   * driver then leaves host, port, database, user and password to postgres.js, which reads them.
   */
  readonly url?: string;
}

/** The etcd cluster: pass it as the options of `etcdCoord` (`etcdCoord(env.etcd)`). */
export interface KitEnvEtcd {
  /** Client URLs (`http://` or `https://`), without credentials: `etcdCoord`'s `endpoints`. */
  readonly endpoints: readonly string[];
  /** `ETCD_USERNAME`: `etcdCoord`'s `username`. */
  readonly username?: string;
  /** `ETCD_PASSWORD`: `etcdCoord`'s `password`. */
  readonly password?: string;
}

/** The Kafka cluster: pass it as the options of `kafkaMq` (`kafkaMq(env.kafka)`). */
export interface KitEnvKafka {
  /** Bootstrap brokers, `host:port` each: `kafkaMq`'s `brokers`. */
  readonly brokers: readonly string[];
}

/**
 * OpenTelemetry export by Deno's built-in SDK (`OTEL_DENO`). Deno reads these variables and the
 * other `OTEL_*` ones itself; they are reported here so a service can say where it exports to.
 */
export interface KitEnvOtel {
  /** Whether `OTEL_DENO` is `"true"` or `"1"`: Deno exports traces, metrics and logs. */
  readonly enabled: boolean;
  /** `OTEL_EXPORTER_OTLP_ENDPOINT`, the collector's base URL. */
  readonly endpoint?: string;
  /** `OTEL_EXPORTER_OTLP_PROTOCOL`. */
  readonly protocol?: "grpc" | "http/protobuf" | "http/json";
}

/**
 * What the environment asks for. A backend that is absent means its standalone (memory) driver;
 * present, its fields are the options of the distributed driver.
 */
export interface KitEnv {
  /**
   * The argument of every component's `defaultConfig`: `KIT_ENV` when set, else `"production"`
   * when `DENO_ENV` or `NODE_ENV` is `"production"`, else `"development"`.
   */
  readonly environment: "development" | "production";
  /** `OTEL_SERVICE_NAME`: the service's name in telemetry. */
  readonly service?: string;
  /**
   * `"<service>:"` when the service is named: the namespace of the service's own keys on a
   * shared Redis, the `keyPrefix` of the cache, once and ratelimit configs (which require one on
   * Redis). es index names allow no `:`; give es `"<service>-"`.
   */
  readonly keyPrefix?: string;
  /** From `REDIS_URL`. */
  readonly redis?: KitEnvRedis;
  /** From `DATABASE_URL`, or `{}` when only postgres.js's `PG*` variables are set. */
  readonly postgres?: KitEnvPostgres;
  /** From `ETCD_ENDPOINTS`, `ETCD_USERNAME` and `ETCD_PASSWORD`. */
  readonly etcd?: KitEnvEtcd;
  /** From `KAFKA_BROKERS`. */
  readonly kafka?: KitEnvKafka;
  /** From `OTEL_DENO` and `OTEL_EXPORTER_OTLP_*`. */
  readonly otel: KitEnvOtel;
}

/** postgres.js reads these when a connection setting is not given (PGSSLMODE is not among them). */
const PG_VARIABLES = ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD"] as const;

const OTLP_PROTOCOLS = ["grpc", "http/protobuf", "http/json"] as const;

/**
 * Reads and checks the kit's environment variables (see the module doc for the list).
 *
 * @example A record source
 * ```ts
 * import { read } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const env = read({ KIT_ENV: "development", DATABASE_URL: "postgres://app@db:5432/app" });
 * assert.deepEqual(env.postgres, { url: "postgres://app@db:5432/app" });
 * assert.throws(() => read({ REDIS_URL: "http://cache:6379" }), /'REDIS_URL'/);
 * ```
 *
 * @param source A record of variables, or a lookup by name; `Deno.env` by default.
 * @returns The settings found.
 * @throws {TypeError} When a variable holds a value it cannot have; the message names it, and
 * never repeats a password.
 * @throws {Error} When reading `Deno.env` is not permitted; the message gives the `--allow-env=`
 * flag to run with.
 */
export function read(source?: EnvSource): KitEnv {
  const lookup = lookupOf(source);
  const get = (name: string): string | undefined => {
    const value = lookup(name);
    return value === undefined || value === "" ? undefined : value;
  };

  const kitEnv = get("KIT_ENV");
  if (kitEnv !== undefined && kitEnv !== "development" && kitEnv !== "production") {
    throw invalid("KIT_ENV", `be "development" or "production"`, JSON.stringify(kitEnv));
  }
  const environment = kitEnv ??
    (get("DENO_ENV") === "production" || get("NODE_ENV") === "production"
      ? "production"
      : "development");

  const service = get("OTEL_SERVICE_NAME");
  if (service !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(service)) {
    throw invalid(
      "OTEL_SERVICE_NAME",
      "be at most 100 letters, digits, '.', '_' or '-'",
      JSON.stringify(service),
    );
  }

  return {
    environment,
    ...(service === undefined ? {} : { service, keyPrefix: `${service}:` }),
    ...optional("redis", readRedis(get)),
    ...optional("postgres", readPostgres(get)),
    ...optional("etcd", readEtcd(get)),
    ...optional("kafka", readKafka(get)),
    otel: readOtel(get),
  };
}

type Get = (name: string) => string | undefined;

/** `{ [key]: value }`, or nothing when the value is absent (so no key holds `undefined`). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function lookupOf(source: EnvSource | undefined): Get {
  if (typeof source === "function") return source;
  if (source !== undefined) {
    return (name) => Object.hasOwn(source, name) ? source[name] : undefined;
  }
  return (name) => {
    try {
      return Deno.env.get(name);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new Error(
          `Cannot read the environment as reading '${name}' is not permitted: run with --allow-env=${
            VARIABLES.join(",")
          }`,
          { cause: error },
        );
      }
      throw error;
    }
  };
}

function invalid(name: string, must: string, shown: string): TypeError {
  return new TypeError(
    `Cannot read the environment as '${name}' must ${must}: current value is ${shown}`,
  );
}

/**
 * A value that may hold a password, safe to repeat: everything before an '@' is redacted. An
 * unencoded password may itself hold '/' or '@', where `redactMalformedUrl` stops, so whatever
 * it leaves before a later '@' goes too.
 */
function safe(value: string): string {
  const redacted = redactMalformedUrl(value);
  return JSON.stringify(
    redacted.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i, `$1${REDACTED}@`),
  );
}

/** The URL in `value`, or undefined when it does not parse. */
function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

function readRedis(get: Get): KitEnvRedis | undefined {
  const url = get("REDIS_URL");
  if (url === undefined) return undefined;
  const parsed = /^rediss?:\/\//i.test(url) ? parseUrl(url) : undefined;
  if (parsed === undefined || parsed.hostname === "") {
    throw invalid("REDIS_URL", "be a redis:// or rediss:// URL", safe(url));
  }
  return { url };
}

function readPostgres(get: Get): KitEnvPostgres | undefined {
  const sslmode = get("PGSSLMODE");
  if (sslmode !== undefined && !["disable", "allow", "prefer"].includes(sslmode)) {
    // postgres.js ignores PGSSLMODE: honouring it silently would connect without TLS.
    throw invalid(
      "PGSSLMODE",
      `be "disable", "allow" or "prefer", as postgres.js does not read it (for TLS put ?sslmode= in DATABASE_URL, or pass postgresDb({ tls: true }))`,
      JSON.stringify(sslmode),
    );
  }
  const port = get("PGPORT");
  if (port !== undefined && !isPort(port)) {
    throw invalid("PGPORT", "be a port number from 1 to 65535", JSON.stringify(port));
  }
  const url = get("DATABASE_URL");
  if (url === undefined) {
    return PG_VARIABLES.some((name) => get(name) !== undefined) || sslmode !== undefined
      ? {}
      : undefined;
  }
  // postgres.js takes several hosts (h1:5432,h2:5432), which URL parsing does not: check the first.
  const single = url.replace(
    /^([^:]*:\/\/(?:[^@/?]*@)?)([^/?]*)/,
    (_, head, hosts) => head + hosts.split(",")[0],
  );
  if (!/^postgres(ql)?:\/\//i.test(url) || parseUrl(single) === undefined) {
    throw invalid("DATABASE_URL", "be a postgres:// or postgresql:// URL", safe(url));
  }
  return { url };
}

function readEtcd(get: Get): KitEnvEtcd | undefined {
  const list = get("ETCD_ENDPOINTS");
  const username = get("ETCD_USERNAME");
  const password = get("ETCD_PASSWORD");
  if (list === undefined) return undefined;
  const endpoints = list.split(",").map((endpoint) => endpoint.trim()).filter(Boolean);
  if (endpoints.length === 0) {
    throw invalid("ETCD_ENDPOINTS", "name at least one http(s) URL", JSON.stringify(list));
  }
  for (const endpoint of endpoints) {
    const parsed = /^https?:\/\//i.test(endpoint) ? parseUrl(endpoint) : undefined;
    if (parsed === undefined || parsed.hostname === "") {
      throw invalid(
        "ETCD_ENDPOINTS",
        "be comma-separated http:// or https:// URLs",
        safe(endpoint),
      );
    }
    if (parsed.username !== "" || parsed.password !== "") {
      throw invalid(
        "ETCD_ENDPOINTS",
        "not carry credentials (set ETCD_USERNAME and ETCD_PASSWORD instead)",
        safe(endpoint),
      );
    }
  }
  if (password !== undefined && username === undefined) {
    throw new TypeError(
      "Cannot read the environment as 'ETCD_PASSWORD' needs 'ETCD_USERNAME': etcd authenticates a user",
    );
  }
  return {
    endpoints,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  };
}

function isPort(text: string): boolean {
  return /^\d{1,5}$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

function readKafka(get: Get): KitEnvKafka | undefined {
  const list = get("KAFKA_BROKERS");
  if (list === undefined) return undefined;
  const brokers = list.split(",").map((broker) => broker.trim()).filter(Boolean);
  if (brokers.length === 0) {
    throw invalid("KAFKA_BROKERS", "name at least one host:port", JSON.stringify(list));
  }
  for (const broker of brokers) {
    const [, , port] = broker.match(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):([^:]*)$/) ?? [];
    if (port === undefined || !isPort(port)) {
      throw invalid(
        "KAFKA_BROKERS",
        "be comma-separated host:port pairs (port 1 to 65535)",
        safe(broker),
      );
    }
  }
  return { brokers };
}

function readOtel(get: Get): KitEnvOtel {
  const flag = get("OTEL_DENO");
  if (flag !== undefined && !["true", "1", "false", "0"].includes(flag)) {
    throw invalid("OTEL_DENO", `be "true", "1", "false" or "0"`, JSON.stringify(flag));
  }
  const endpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (endpoint !== undefined) {
    const parsed = /^https?:\/\//i.test(endpoint) ? parseUrl(endpoint) : undefined;
    if (parsed === undefined || parsed.hostname === "") {
      throw invalid(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "be an http:// or https:// URL",
        safe(endpoint),
      );
    }
  }
  const protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol !== undefined && !(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw invalid(
      "OTEL_EXPORTER_OTLP_PROTOCOL",
      `be one of ${OTLP_PROTOCOLS.map((each) => JSON.stringify(each)).join(", ")}`,
      JSON.stringify(protocol),
    );
  }
  return {
    enabled: flag === "true" || flag === "1",
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(protocol === undefined ? {} : { protocol: protocol as KitEnvOtel["protocol"] }),
  };
}
