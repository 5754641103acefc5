/**
 * coord: service registry and discovery, config center with watches and live
 * managers, distributed locks with fencing tokens, leader election and leased
 * instance ids — on an in-memory backend (standalone, the default) or etcd
 * (`@gochat/kit/drivers/etcd`).
 *
 * Everything hangs off leases kept alive in the background. When a lease is
 * lost (backend restart, network gap, process pause longer than the TTL) the
 * holder is told through a `lost` AbortSignal instead of pretending, and
 * registrations register again by themselves.
 *
 * @example Lock, config and registry on the memory driver
 * ```ts
 * import { coord } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using c = await coord.create(coord.defaultConfig("development"));
 *
 * await using lock = await c.lock.acquire("orders/42", { ttlMs: 5_000 });
 * assert.equal(await c.lock.tryAcquire("orders/42"), null);
 * assert.ok(lock.token > 0);
 *
 * const key = coord.configKey("dev", "im-logic", "flags");
 * await c.config.set(key, { beta: true });
 * assert.deepEqual(await c.config.get(key), { beta: true });
 *
 * await c.registry.register({ id: "a1", name: "im-logic", address: "10.0.0.5", port: 8080 });
 * assert.equal((await c.registry.pick("im-logic")).port, 8080);
 * ```
 *
 * @module
 */
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import { type Logger, namespace } from "../clog/mod.ts";
import { DriverError } from "../internal/errors.ts";
import { type PingOptions, pingProvider } from "../internal/ping.ts";
import type { Metrics } from "../metrics/mod.ts";
import { type CoordContext, requireTtl } from "./_util.ts";
import { type ConfigCenter, configCenter } from "./config.ts";
import { type Election, election } from "./election.ts";
import { type InstanceIds, instanceIds } from "./instance_ids.ts";
import { type LockService, lockService } from "./lock.ts";
import { memoryCoord } from "./memory.ts";
import { prefixedDriver } from "./prefix.ts";
import { type Presence, presence } from "./presence.ts";
import { type Registry, registry } from "./registry.ts";
import { Session } from "./session.ts";
import type { CoordDriver } from "./types.ts";

export { DriverError, LostError } from "../internal/errors.ts";
export type { PingOptions } from "../internal/ping.ts";
export type { CallOptions } from "./_util.ts";
export { configKey } from "./config.ts";
export type {
  ConfigCenter,
  ConfigEvent,
  ConfigManager,
  ManagerOptions,
  Versioned,
} from "./config.ts";
export { LeadershipLostError } from "./election.ts";
export type { CampaignOptions, Election, LeaderInfo, Leadership } from "./election.ts";
export { InstanceIdLostError } from "./instance_ids.ts";
export type { AllocateOptions, InstanceId, InstanceIds } from "./instance_ids.ts";
export { LockLostError } from "./lock.ts";
export type { AcquireOptions, Lock, LockService } from "./lock.ts";
export { memoryCoord, MemoryCoordDriver, MemoryCoordStore } from "./memory.ts";
export type { MemoryCoordOptions, MemoryCoordStoreOptions } from "./memory.ts";
export { NoInstanceError } from "./registry.ts";
export type { JoinOptions, Presence, PresenceMember } from "./presence.ts";
export type {
  PickOptions,
  PickStrategy,
  RegisterOptions,
  Registration,
  Registry,
  RegistryEvent,
  ServiceInfo,
} from "./registry.ts";
export { LeaseLostError } from "./session.ts";

/** Static settings of a coord provider. */
export interface CoordConfig {
  /**
   * Lease TTL of registrations, election candidates and instance ids: how long they outlive a
   * process that stopped (crash, partition). At least 2000 on etcd; at most 2147483647 (2³¹−1,
   * the longest a timer can wait; 2147483000 on etcd, whose TTLs are whole seconds).
   * @default {10000}
   */
  readonly leaseTtlMs: number;
  /**
   * Default lease TTL of locks; bounded like `leaseTtlMs`.
   * @default {10000}
   */
  readonly lockTtlMs: number;
  /**
   * How long `create` waits for the backend to answer.
   * @default {5000}
   */
  readonly connectTimeoutMs: number;
  /**
   * Namespace of everything this provider stores (`/gochat`), so several applications can share
   * one etcd without seeing each other's registrations, config or locks. The services of one
   * application share it (or none): they discover each other and read each other's config through
   * it. It is a path segment: `/x/app` holds `/x/app/…` only, never `/x/app2/…`; a prefix nested
   * in another (`/x` and `/x/app`) is visible from the outer one, as a directory is. (Before this
   * release the key was called `prefix`.)
   * @default {none: keys as written}
   */
  readonly keyPrefix?: string;
}

/** Dependencies of a coord provider. */
export interface CreateOptions {
  /** The backend; `memoryCoord()` (standalone) by default. The provider closes it. */
  readonly driver?: CoordDriver;
  /** Logger; `clog.namespace("coord")` by default. */
  readonly logger?: Logger;
  /**
   * Where to record `coord_leases_lost_total` (locks, leaderships, registrations and instance ids
   * whose lease was lost), `coord_registrations_restored_total` and
   * `coord_config_updates_total{key, outcome}` (`applied`, `rejected`) of config managers.
   */
  readonly metrics?: Pick<Metrics, "counter">;
}

/** A coord provider. */
export interface Coord extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /** Service registry and discovery. */
  readonly registry: Registry;
  /** Config center. */
  readonly config: ConfigCenter;
  /** Distributed locks. */
  readonly lock: LockService;
  /** Instance id allocation. */
  readonly instanceIds: InstanceIds;
  /** Which instance (gateway) holds which user, on leases. */
  readonly presence: Presence;
  /** The election called `name`. */
  election<T = string>(name: string): Election<T>;
  /**
   * Checks that the backend answers, for readiness probes.
   *
   * @throws {DriverError} When it does not, or the provider is closed.
   */
  ping(options?: PingOptions): Promise<void>;
  /** Unregisters, releases every lease of this provider, stops its watches and closes the driver. */
  close(): Promise<void>;
}

/**
 * The recommended configuration: 10 s leases for registrations, elections,
 * instance ids and locks; a 5 s connect timeout.
 *
 * @param env `"development"` or `"production"` (the same values today).
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): CoordConfig {
  requireEnv("coord", env);
  return { leaseTtlMs: 10_000, lockTtlMs: 10_000, connectTimeoutMs: 5_000 };
}

const CONFIG_KEYS = [
  "leaseTtlMs",
  "lockTtlMs",
  "connectTimeoutMs",
  "keyPrefix",
] as const satisfies readonly (keyof CoordConfig)[];

function validateConfig(config: CoordConfig, driver: CoordDriver): void {
  checkConfig("coord", config, CONFIG_KEYS, { hints: { prefix: "it is called 'keyPrefix' now" } });
  for (const field of ["leaseTtlMs", "lockTtlMs"] as const) {
    const value = config[field];
    if (typeof value !== "number" || !Number.isFinite(value) || value < driver.minLeaseTtlMs) {
      throw new RangeError(
        `Cannot create coord as '${field}' must be at least ${driver.minLeaseTtlMs} ms for the ${driver.name} driver: current value is ${value}`,
      );
    }
    requireTtl("create coord", value, driver, field);
  }
  if (typeof config.connectTimeoutMs !== "number" || !(config.connectTimeoutMs > 0)) {
    throw new RangeError(
      `Cannot create coord as 'connectTimeoutMs' must be positive: current value is ${config.connectTimeoutMs}`,
    );
  }
}

async function ping(driver: CoordDriver, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([driver.ping(), timeout]);
  } catch (error) {
    throw new DriverError(
      driver.name,
      "connect",
      error instanceof DriverError ? error.cause : error,
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Creates a coord provider and checks that its backend answers.
 *
 * @param config Lease TTLs and connect timeout; see {@linkcode defaultConfig}.
 * @param options The driver (memory by default) and logger.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 * @throws {DriverError} When the backend does not answer (the driver is closed again).
 */
export async function create(
  config: CoordConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Coord> {
  const base = options.driver ?? memoryCoord();
  let driver = base;
  try {
    validateConfig(config, base);
    if (config.keyPrefix !== undefined) driver = prefixedDriver(base, config.keyPrefix);
    await ping(driver, config.connectTimeoutMs);
  } catch (error) {
    await base.close().catch(() => {});
    throw error;
  }
  const logger = options.logger ?? namespace("coord");
  const meter = options.metrics;
  const leasesLost = meter?.counter("coord_leases_lost_total", {
    help: "Leases lost while held (locks, leaderships, registrations, instance ids).",
  });
  const sessions = new Set<Session>();
  const closing = new AbortController();
  const context: CoordContext = {
    driver,
    logger,
    leaseTtlMs: config.leaseTtlMs,
    closed: closing.signal,
    counters: meter && {
      restored: meter.counter("coord_registrations_restored_total", {
        help: "Registrations registered again after their lease was lost.",
      }).with({}),
      configUpdates: meter.counter("coord_config_updates_total", {
        help: "Values a config manager received, by key and outcome (applied, rejected).",
        labels: ["key", "outcome"],
      }),
    },
    async openSession(ttlMs: number): Promise<Session> {
      if (closing.signal.aborted) {
        throw new Error("Cannot open a lease as the coord provider is closed");
      }
      const session: Session = await Session.open(
        driver,
        ttlMs,
        logger,
        () => sessions.delete(session),
      );
      sessions.add(session);
      if (leasesLost) {
        session.lost.addEventListener("abort", () => leasesLost.inc(), { once: true });
      }
      return session;
    },
  };
  const services = {
    registry: registry(context),
    config: configCenter(context),
    lock: lockService(context, config.lockTtlMs),
    instanceIds: instanceIds(context),
    presence: presence(context),
  };
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await services.registry.close();
      await services.presence.close();
      closing.abort();
      await Promise.all([...sessions].map((session) => session.close()));
      await driver.close();
    })();
  return {
    driver: driver.name,
    ...services,
    election: <T = string>(name: string) => election<T>(context, name),
    ping: (options?: PingOptions) =>
      pingProvider("coord", driver.name, () => closed !== undefined, options, () => driver.ping()),
    close,
    [Symbol.asyncDispose]: close,
  };
}
