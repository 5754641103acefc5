/**
 * Service registry and discovery: instances registered under
 * `/services/{name}/{id}` on a lease kept alive in the background, which
 * re-register by themselves after the lease is lost; discovery, watches that
 * start with a snapshot, and a client-side picker.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { encodeJson } from "../internal/json.ts";
import { acquireUnderSignal } from "../internal/acquire.ts";
import {
  call,
  type CallOptions,
  type CoordContext,
  decodeJson,
  keepOnLease,
  release,
  requireKey,
  requireTtl,
} from "./_util.ts";
import type { Session } from "./session.ts";
import type { KeyValue } from "./types.ts";
import { eventKeyValue, resumableWatch } from "./watch.ts";

/** One instance of a service. */
export interface ServiceInfo {
  /** Unique instance id. */
  readonly id: string;
  /** Service name. */
  readonly name: string;
  /** Host or IP the instance listens on. */
  readonly address: string;
  /** Port the instance listens on. */
  readonly port: number;
  /** Free-form metadata (version, zone, weight…). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A change of a service's instances. */
export type RegistryEvent =
  | { readonly type: "snapshot"; readonly instances: readonly ServiceInfo[] }
  | { readonly type: "put"; readonly instance: ServiceInfo }
  | { readonly type: "delete"; readonly id: string };

/** A live registration. */
export interface Registration extends AsyncDisposable {
  /** The registered instance. */
  readonly service: ServiceInfo;
  /** `registered`, or `re-registering` between a lost lease and the next successful registration. */
  readonly status: "registered" | "re-registering" | "closed";
  /** How many times the registration was restored after a lost lease. */
  readonly restored: number;
  /**
   * Removes the instance from the registry. Safe to call twice. The removal starts even when the
   * signal has already aborted; the signal ends only the wait.
   */
  unregister(options?: CallOptions): Promise<void>;
}

/** Options of `registry.register`. */
export interface RegisterOptions {
  /** Lease TTL: how long the entry outlives an instance that stopped (crash, partition). */
  readonly ttlMs?: number;
  /**
   * Gives up when aborted: the call rejects with the signal's reason at once, and an entry
   * written afterwards is removed again.
   */
  readonly signal?: AbortSignal;
}

/** Options of `registry.pick`. */
export interface PickOptions extends CallOptions {
  /**
   * How to choose among live instances.
   * @default {"round-robin"}
   */
  readonly strategy?: PickStrategy;
}

/** How `pick` chooses among live instances. */
export type PickStrategy = "round-robin" | "random";

/** Thrown by `pick` when a service has no live instance. */
export class NoInstanceError extends Error {
  /** Stable code. */
  readonly code = "COORD_NO_INSTANCE";
  /** The service. */
  readonly service: string;

  /**
   * Creates the error.
   *
   * @param service The service that has no instance.
   */
  constructor(service: string) {
    super(`Cannot pick an instance of service '${service}': none is registered`);
    this.name = "NoInstanceError";
    this.service = service;
  }
}

/** The `registry` group of a coord provider. */
export interface Registry {
  /**
   * Registers an instance, kept alive until unregistered, and restored after a lost lease.
   *
   * @throws {TypeError} On a missing id, name, address or a bad port.
   * @throws {RangeError} On a TTL below what the driver grants or above what a timer can wait
   * (2³¹−1 ms).
   */
  register(service: ServiceInfo, options?: RegisterOptions): Promise<Registration>;
  /** Removes an instance registered by this provider; resolves to false when it had none with that id. */
  unregister(id: string, options?: CallOptions): Promise<boolean>;
  /** The live instances of a service. */
  discover(name: string, options?: CallOptions): Promise<ServiceInfo[]>;
  /** A snapshot of the instances, then every put and delete in order, until the signal aborts. */
  watch(name: string, options?: { signal?: AbortSignal }): AsyncIterable<RegistryEvent>;
  /**
   * The next instance to call, chosen client-side among the live ones (kept current by a watch).
   *
   * @throws {NoInstanceError} When the service has no live instance.
   */
  pick(name: string, options?: PickOptions): Promise<ServiceInfo>;
  /** Stops every registration and picker of this provider. */
  close(): Promise<void>;
}

const PREFIX = "/services/";

function validateService(service: ServiceInfo): ServiceInfo {
  if (service === null || typeof service !== "object") {
    throw new TypeError(
      `Cannot register service as 'service' must be an object: current value is ${service}`,
    );
  }
  requireKey("register service", "id", service.id, { slash: false });
  requireKey("register service", "name", service.name, { slash: false });
  requireKey("register service", "address", service.address);
  if (!Number.isInteger(service.port) || service.port < 0 || service.port > 65535) {
    throw new TypeError(
      `Cannot register service as 'port' must be an integer from 0 to 65535: current value is ${service.port}`,
    );
  }
  return service;
}

class Picker {
  readonly #instances = new Map<string, ServiceInfo>();
  readonly #ready: Promise<void>;
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;
  #next = 0;

  constructor(registry: Registry, name: string) {
    let markReady!: () => void;
    this.#ready = new Promise((resolve) => (markReady = resolve));
    this.#done = (async () => {
      try {
        for await (const event of registry.watch(name, { signal: this.#stop.signal })) {
          if (event.type === "snapshot") {
            for (const instance of event.instances) this.#instances.set(instance.id, instance);
            markReady();
          } else if (event.type === "put") this.#instances.set(event.instance.id, event.instance);
          else this.#instances.delete(event.id);
        }
      } finally {
        markReady();
      }
    })();
  }

  async pick(name: string, strategy: PickStrategy): Promise<ServiceInfo> {
    await this.#ready;
    const instances = [...this.#instances.values()];
    if (instances.length === 0) throw new NoInstanceError(name);
    if (strategy === "random") return instances[Math.floor(Math.random() * instances.length)];
    return instances[this.#next++ % instances.length];
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

function requireStrategy(strategy: PickStrategy): PickStrategy {
  if (strategy !== "round-robin" && strategy !== "random") {
    throw new RangeError(
      `Cannot pick as 'strategy' must be "round-robin" or "random": current value is ${
        JSON.stringify(strategy)
      }`,
    );
  }
  return strategy;
}

function decodeService(kv: KeyValue, logger: Logger): ServiceInfo | undefined {
  try {
    return decodeJson<ServiceInfo>(kv);
  } catch (error) {
    logger.warn("skipping a registry entry that is not JSON", { key: kv.key, err: error });
    return undefined;
  }
}

/** Writes `value` under `key` on a new lease; the lease is closed again when the write fails. */
async function putOnNewLease(
  context: CoordContext,
  key: string,
  value: string,
  ttlMs: number,
): Promise<Session> {
  const session = await context.openSession(ttlMs);
  try {
    await context.driver.put(key, value, session.leaseId);
    return session;
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** A live registration: after a lost lease it registers again on a new one, until unregistered. */
class ServiceRegistration implements Registration {
  readonly service: ServiceInfo;
  readonly #context: CoordContext;
  readonly #put: () => Promise<Session>;
  readonly #registrations: Map<string, Registration>;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  #session: Session;
  #status: Registration["status"] = "registered";
  #restored = 0;
  #unregistered: Promise<void> | undefined;

  /**
   * Registers `service` on a new lease, as one of `registrations` (the provider's, by id) until
   * it is unregistered.
   */
  static async open(
    context: CoordContext,
    registrations: Map<string, Registration>,
    service: ServiceInfo,
    value: string,
    ttlMs: number,
  ): Promise<ServiceRegistration> {
    const key = `${PREFIX}${service.name}/${service.id}`;
    const put = () => putOnNewLease(context, key, value, ttlMs);
    const registration = new ServiceRegistration(context, registrations, service, await put(), put);
    registrations.set(service.id, registration);
    context.logger.info("service registered", {
      service: service.name,
      id: service.id,
      address: service.address,
      port: service.port,
    });
    return registration;
  }

  private constructor(
    context: CoordContext,
    registrations: Map<string, Registration>,
    service: ServiceInfo,
    session: Session,
    put: () => Promise<Session>,
  ) {
    this.#context = context;
    this.#registrations = registrations;
    this.service = service;
    this.#session = session;
    this.#put = put;
    // Callers may take the method off the object (`const { unregister } = registration`).
    this.unregister = this.unregister.bind(this);
    this.#loop = this.#keepRegistered();
  }

  get status(): Registration["status"] {
    return this.#status;
  }

  get restored(): number {
    return this.#restored;
  }

  unregister(options?: CallOptions): Promise<void> {
    return release(
      `unregister service '${this.service.name}'`,
      options,
      () =>
        this.#unregistered ??= (async () => {
          this.#stop.abort();
          this.#status = "closed";
          this.#registrations.delete(this.service.id);
          await this.#loop;
          await this.#session.close();
        })(),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unregister();
  }

  // After a lost lease, register again with a new one until it works or we are told to stop.
  #keepRegistered(): Promise<void> {
    const { logger, counters } = this.#context;
    const { name, id } = this.service;
    const stop = this.#stop.signal;
    return keepOnLease({
      stop,
      lost: () => this.#session.lost,
      onLost: () => {
        this.#status = "re-registering";
        logger.warn("registration lost its lease; registering again", { service: name, id });
      },
      restore: async () => {
        const next = await this.#put();
        if (stop.aborted) return void await next.close();
        this.#session = next;
        this.#status = "registered";
        this.#restored++;
        counters?.restored.inc();
        logger.info("registration restored", { service: name, id });
      },
      onRetry: (error) =>
        logger.debug("re-registration failed; retrying", { service: name, err: error }),
    });
  }
}

/** The instances of service `name`: a snapshot, then every put and delete. */
async function* watchService(
  context: CoordContext,
  name: string,
  options: { signal?: AbortSignal },
): AsyncIterable<RegistryEvent> {
  const { driver, logger } = context;
  requireKey("watch service", "name", name, { slash: false });
  const prefix = `${PREFIX}${name}/`;
  const decode = (kv: KeyValue) => decodeService(kv, logger);
  for await (
    const update of resumableWatch(driver, { key: prefix, prefix: true }, logger, [
      context.closed,
      options.signal,
    ])
  ) {
    if (update.kind === "snapshot") {
      yield {
        type: "snapshot",
        instances: update.kvs.map(decode).filter((i): i is ServiceInfo => !!i),
      };
      continue;
    }
    for (const event of update.events) {
      if (event.type === "delete") {
        yield { type: "delete", id: event.key.slice(prefix.length) };
      } else {
        const instance = decode(eventKeyValue(event));
        if (instance) yield { type: "put", instance };
      }
    }
  }
}

/** Creates the registry over a provider context. */
export function registry(context: CoordContext): Registry {
  const { driver, logger } = context;
  const registrations = new Map<string, Registration>();
  const pickers = new Map<string, Picker>();
  const decode = (kv: KeyValue) => decodeService(kv, logger);

  /** Ids being registered now: a second register of one of them is refused, not raced. */
  const pending = new Set<string>();
  const self: Registry = {
    register(input: ServiceInfo, options: RegisterOptions = {}): Promise<Registration> {
      let service: ServiceInfo, value: string, ttlMs: number;
      try {
        service = validateService(input);
        ttlMs = requireTtl(
          `register service '${service.name}'`,
          options.ttlMs ?? context.leaseTtlMs,
          driver,
        );
        value = encodeJson(service, `service '${service.name}'`);
        if (registrations.has(service.id) || pending.has(service.id)) {
          throw new TypeError(
            `Cannot register service as id '${service.id}' is already registered by this provider`,
          );
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return acquireUnderSignal(
        `register service '${service.name}'`,
        options.signal,
        () => {
          // Marked only once the registration starts: a refused call leaves nothing behind.
          pending.add(service.id);
          return ServiceRegistration.open(context, registrations, service, value, ttlMs)
            .finally(() => pending.delete(service.id));
        },
        (registration) => registration.unregister(),
        (error) =>
          logger.warn("could not remove an abandoned registration; it expires with its lease", {
            service: service.name,
            id: service.id,
            err: error,
          }),
      );
    },

    async unregister(id: string, options?: CallOptions): Promise<boolean> {
      const registration = registrations.get(id);
      if (!registration) return false;
      await registration.unregister(options);
      return true;
    },

    async discover(name: string, options?: CallOptions): Promise<ServiceInfo[]> {
      requireKey("discover service", "name", name, { slash: false });
      const { kvs } = await call(
        "discover service",
        options,
        () => driver.list(`${PREFIX}${name}/`),
      );
      return kvs.map(decode).filter((info): info is ServiceInfo => info !== undefined);
    },

    watch(name: string, options: { signal?: AbortSignal } = {}): AsyncIterable<RegistryEvent> {
      return watchService(context, name, options);
    },

    pick(name: string, options: PickOptions = {}): Promise<ServiceInfo> {
      let strategy: PickStrategy;
      try {
        requireKey("pick service", "name", name, { slash: false });
        strategy = requireStrategy(options.strategy ?? "round-robin");
      } catch (error) {
        return Promise.reject(error);
      }
      let picker = pickers.get(name);
      if (!picker) pickers.set(name, picker = new Picker(self, name));
      const chosen = picker;
      return call(`pick an instance of '${name}'`, options, () => chosen.pick(name, strategy));
    },

    async close(): Promise<void> {
      await Promise.all([...pickers.values()].map((picker) => picker.close()));
      pickers.clear();
      await Promise.all(
        [...registrations.values()].map((registration) => registration.unregister()),
      );
    },
  };
  return self;
}
