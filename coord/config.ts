/**
 * Config center: typed JSON values under keys laid out as
 * `/config/{env}/{service}/{component}`, versions for compare-and-set, watches,
 * and managers that hold a live, validated snapshot of one key.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { encodeJson } from "../internal/json.ts";
import { call, type CallOptions, type CoordContext, decodeJson, requireKey } from "./_util.ts";
import { resumableWatch } from "./watch.ts";

/** A value with the version to pass to `compareAndSet`. */
export interface Versioned<T> {
  /** The value. */
  readonly value: T;
  /** The key's modification revision; changes on every write. */
  readonly version: number;
}

/** A change of a config key. Watches start with one `put` per existing key. */
export type ConfigEvent<T> =
  | { readonly type: "put"; readonly key: string; readonly value: T; readonly version: number }
  | { readonly type: "delete"; readonly key: string; readonly version: number };

/** Options of `config.manager`. */
export interface ManagerOptions<T> {
  /** The value while the key is absent (and after it is deleted). */
  readonly default: T;
  /**
   * Checks a new value and returns it typed; throw to reject it (the last good value stays, the
   * reason is logged). Without it, any JSON value is accepted.
   */
  readonly validate?: (value: unknown) => T;
  /**
   * The value is an object of named entries (rules, policies) that may also be stored one key per
   * entry, as the Go kit does: `{key}/{name}` or `{key}s/{name}.json` (its breakers live at
   * `/config/{env}/{service}/breakers/{name}.json`). Such keys are merged over the object at
   * `key` (an entry key wins over the same name in the object) and validated together; a deleted
   * entry key drops its entry.
   * @default {false}
   */
  readonly entries?: boolean;
}

/** A live, validated snapshot of one config key. */
export interface ConfigManager<T> extends AsyncDisposable {
  /** The key. */
  readonly key: string;
  /** The last good value. */
  readonly current: T;
  /** Version of the stored value `current` came from; 0 while on the default. */
  readonly version: number;
  /**
   * Calls `listener` after every accepted change.
   *
   * @returns A function that removes the listener.
   */
  onChange(listener: (value: T, previous: T) => void): () => void;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * The `config` group of a coord provider. Keys and key prefixes are paths that start with `/`
 * (`/config/prod/api/flags`), so that under a provider prefix (`/x/app`) no key reaches outside
 * it (`2/config` would otherwise read `/x/app2/config`); other keys are refused with a TypeError.
 */
export interface ConfigCenter {
  /** The value of a key, or undefined when absent. */
  get<T = unknown>(key: string, options?: CallOptions): Promise<T | undefined>;
  /**
   * Stores a JSON value.
   *
   * @throws {TypeError} When the value cannot be stored as JSON (undefined, bigint, NaN, a cycle…).
   */
  set(key: string, value: unknown, options?: CallOptions): Promise<void>;
  /** Deletes a key; resolves to whether it existed. */
  delete(key: string, options?: CallOptions): Promise<boolean>;
  /** Every key under a prefix with its value, sorted by key. */
  list<T = unknown>(prefix: string, options?: CallOptions): Promise<{ key: string; value: T }[]>;
  /** The value and its version, or undefined when absent. */
  getWithVersion<T = unknown>(
    key: string,
    options?: CallOptions,
  ): Promise<Versioned<T> | undefined>;
  /**
   * Stores `value` only if the key's version is still `expectedVersion` (0: only if absent).
   *
   * @returns Whether it was stored.
   */
  compareAndSet(
    key: string,
    value: unknown,
    expectedVersion: number,
    options?: CallOptions,
  ): Promise<boolean>;
  /** The key's current value as a `put` (if present), then every change, until the signal aborts. */
  watch<T = unknown>(
    key: string,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<ConfigEvent<T>>;
  /** Like `watch`, for every key under a prefix. */
  watchPrefix<T = unknown>(
    prefix: string,
    options?: { signal?: AbortSignal },
  ): AsyncIterable<ConfigEvent<T>>;
  /** A live snapshot of a key, validated, with change callbacks. Resolves once the first value is read. */
  manager<T>(key: string, options: ManagerOptions<T>): Promise<ConfigManager<T>>;
}

/**
 * The documented key of a component's config: `/config/{env}/{service}/{component}`.
 *
 * @param env Environment, such as `dev` or `prod`.
 * @param service Service name.
 * @param component Component name, such as `ratelimit`.
 * @returns The key.
 * @throws {TypeError} When a segment is empty or contains `/`.
 *
 * @example
 * ```ts
 * import { configKey } from "./config.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(configKey("prod", "im-logic", "ratelimit"), "/config/prod/im-logic/ratelimit");
 * ```
 */
export function configKey(env: string, service: string, component: string): string {
  for (const [name, value] of [["env", env], ["service", service], ["component", component]]) {
    requireKey("build config key", name, value, { slash: false });
  }
  return `/config/${env}/${service}/${component}`;
}

/** Where a component keeps its dynamic config: `/config/{env}/{service}/{component}`. */
export interface ComponentConfigSite {
  /** Environment segment of the key. */
  readonly env?: string;
  /** Service segment of the key. */
  readonly service?: string;
}

/**
 * The config manager of a component given a coord provider (its rules or policies hot-reloaded
 * from `/config/{env}/{service}/{component}`), or undefined without one: what each component
 * with dynamic config does at create.
 *
 * @param coord The provider, if the application gave one.
 * @param site `env` and `service`, needed with a provider.
 * @param component The key's last segment (`ratelimit`, `breaker`).
 * @param describe For the error: what is being created and what the key holds.
 * @param options The default value and its validator.
 * @returns The manager, or undefined without a provider.
 * @throws {TypeError} With a provider but without `env` or `service`; without a provider but
 * with `env` or `service` (nothing would read the key they name). Thrown before the first await.
 */
export async function componentConfig<T>(
  coord: { readonly config: Pick<ConfigCenter, "manager"> } | undefined,
  site: ComponentConfigSite,
  component: string,
  describe: { readonly action: string; readonly holds: string },
  options: ManagerOptions<T>,
): Promise<ConfigManager<T> | undefined> {
  if (!coord) {
    const named = (["env", "service"] as const).filter((field) => site[field] !== undefined);
    if (named.length === 0) return undefined;
    throw new TypeError(
      `Cannot ${describe.action} as ${
        named.map((field) => `'${field}'`).join(" and ")
      } name the ${describe.holds}' config key in coord, but no coord provider was given: pass { coord } to read ${describe.holds} from it, or drop ${
        named.length === 1 ? "it" : "them"
      }`,
    );
  }
  if (!site.env || !site.service) {
    throw new TypeError(
      `Cannot ${describe.action} with coord as 'env' and 'service' are needed for the ${describe.holds}' config key`,
    );
  }
  return await coord.config.manager(configKey(site.env, site.service, component), {
    ...options,
    entries: true,
  });
}

function decodeOrWarn<T>(
  key: string,
  value: string,
  logger: Logger,
): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(value) as T };
  } catch (error) {
    logger.warn("config value is not JSON; ignoring it", { key, err: error });
    return { ok: false };
  }
}

/** The changes of one key, or of every key under a prefix, as config events. */
async function* watchConfig<T>(
  context: CoordContext,
  key: string,
  prefix: boolean,
  options: { signal?: AbortSignal },
): AsyncIterable<ConfigEvent<T>> {
  const { driver, logger } = context;
  const stopSignals = [context.closed, options.signal];
  for await (const update of resumableWatch(driver, { key, prefix }, logger, stopSignals)) {
    const puts = update.kind === "snapshot"
      ? update.kvs
      : update.events.map((event) => ({ ...event, modRevision: event.revision }));
    for (const change of puts) {
      if ("type" in change && change.type === "delete") {
        yield { type: "delete", key: change.key, version: change.modRevision } as ConfigEvent<
          T
        >;
        continue;
      }
      const decoded = decodeOrWarn<T>(change.key, change.value, logger);
      if (decoded.ok) {
        yield {
          type: "put",
          key: change.key,
          value: decoded.value,
          version: change.modRevision,
        } as ConfigEvent<T>;
      }
    }
  }
}

/** A config manager: a watch of one key that keeps the last good value. */
/**
 * How a stored key belongs to the config at `key` with entries: `undefined` for the object at
 * `key` itself, the entry's name for `{key}/{name}` and `{key}s/{name}` (a `.json` suffix
 * dropped), null for any other key under the same prefix (`{key}x`, deeper paths).
 */
function entryName(key: string, stored: string): string | undefined | null {
  if (stored === key) return undefined;
  for (const directory of [`${key}/`, `${key}s/`]) {
    if (!stored.startsWith(directory)) continue;
    const name = stored.slice(directory.length).replace(/\.json$/, "");
    return name !== "" && !name.includes("/") ? name : null;
  }
  return null;
}

class LiveConfigManager<T> implements ConfigManager<T> {
  readonly key: string;
  readonly #context: CoordContext;
  readonly #options: ManagerOptions<T>;
  readonly #validate: (value: unknown) => T;
  readonly #listeners = new Set<(value: T, previous: T) => void>();
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  #current: T;
  #version = 0;

  /** Starts watching `key`; resolves once its first value (or its absence) is read. */
  static async open<T>(
    context: CoordContext,
    key: string,
    options: ManagerOptions<T>,
  ): Promise<LiveConfigManager<T>> {
    let markReady!: () => void;
    const ready = new Promise<void>((resolve) => (markReady = resolve));
    const manager = new LiveConfigManager(context, key, options, markReady);
    await ready;
    return manager;
  }

  private constructor(
    context: CoordContext,
    key: string,
    options: ManagerOptions<T>,
    markReady: () => void,
  ) {
    this.key = key;
    this.#context = context;
    this.#options = options;
    this.#validate = options.validate ?? ((value: unknown) => value as T);
    this.#current = this.#validate(options.default);
    // Callers may take the methods off the object (`const { onChange, close } = manager`).
    this.onChange = this.onChange.bind(this);
    this.close = this.close.bind(this);
    this.#loop = this.#watch(markReady);
  }

  get current(): T {
    return this.#current;
  }

  get version(): number {
    return this.#version;
  }

  onChange(listener: (value: T, previous: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #watch(markReady: () => void): Promise<void> {
    if (this.#options.entries) return await this.#watchEntries(markReady);
    const { driver, logger } = this.#context;
    const key = this.key;
    const stopSignals = [this.#stop.signal, this.#context.closed];
    try {
      for await (
        const update of resumableWatch(driver, { key, prefix: false }, logger, stopSignals)
      ) {
        if (update.kind === "snapshot") {
          const kv = update.kvs[0];
          if (kv) this.#accept(kv.value, kv.modRevision);
          markReady();
          continue;
        }
        for (const event of update.events) {
          if (event.type === "put") {
            this.#accept(event.value, event.revision);
          } else {
            this.#apply(this.#validate(this.#options.default), 0);
            logger.info("config key deleted; back to the default", { key });
          }
        }
      }
    } finally {
      markReady();
    }
  }

  /** The object at `key` and the entry keys under it (see `ManagerOptions.entries`), merged. */
  async #watchEntries(markReady: () => void): Promise<void> {
    const { driver, logger } = this.#context;
    const key = this.key;
    const stopSignals = [this.#stop.signal, this.#context.closed];
    const parts = new Map<string, { name?: string; value: unknown; version: number }>();
    const store = (storedKey: string, text: string, version: number): void => {
      const name = entryName(key, storedKey);
      if (name === null) return;
      const decoded = decodeOrWarn(storedKey, text, logger);
      if (decoded.ok) parts.set(storedKey, { name, value: decoded.value, version });
    };
    try {
      for await (
        const update of resumableWatch(driver, { key, prefix: true }, logger, stopSignals)
      ) {
        if (update.kind === "snapshot") {
          for (const kv of update.kvs) store(kv.key, kv.value, kv.modRevision);
          this.#merge(parts);
          markReady();
          continue;
        }
        let changed = false;
        for (const event of update.events) {
          if (entryName(key, event.key) === null) continue; // a sibling such as `{key}x`
          changed = true;
          if (event.type === "put") store(event.key, event.value, event.revision);
          else parts.delete(event.key);
        }
        if (changed) this.#merge(parts);
      }
    } finally {
      markReady();
    }
  }

  #merge(parts: Map<string, { name?: string; value: unknown; version: number }>): void {
    const key = this.key;
    const version = Math.max(0, ...[...parts.values()].map((part) => part.version));
    if (parts.size === 0) {
      if (this.#version !== 0) {
        this.#context.logger.info("config keys deleted; back to the default", { key });
      }
      this.#apply(this.#validate(this.#options.default), 0);
      return;
    }
    this.#offer(version, () => {
      const whole = [...parts.values()].find((part) => part.name === undefined)?.value ?? {};
      if (whole === null || typeof whole !== "object" || Array.isArray(whole)) {
        throw new TypeError(`the value at ${key} must be an object of named entries`);
      }
      const merged: Record<string, unknown> = { ...whole };
      for (const part of parts.values()) {
        if (part.name !== undefined) merged[part.name] = part.value;
      }
      return merged;
    }, { entries: parts.size });
  }

  #accept(text: string, nextVersion: number): void {
    this.#offer(nextVersion, () => {
      try {
        return JSON.parse(text);
      } catch {
        throw new TypeError(
          `the stored value is not JSON: ${JSON.stringify(text.slice(0, 80))}`,
        );
      }
    });
  }

  /**
   * Validates what `read` returns and applies it at `version`; on any error keeps the last good
   * value. Either way counted and logged.
   */
  #offer(version: number, read: () => unknown, fields: Record<string, unknown> = {}): void {
    const { counters, logger } = this.#context;
    const key = this.key;
    try {
      this.#apply(this.#validate(read()), version);
      counters?.configUpdates.inc({ key, outcome: "applied" });
      logger.info("config applied", { key, version, ...fields });
    } catch (error) {
      counters?.configUpdates.inc({ key, outcome: "rejected" });
      logger.warn("config value rejected; keeping the last good one", {
        key,
        version,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  #apply(next: T, nextVersion: number): void {
    const previous = this.#current;
    this.#current = next;
    this.#version = nextVersion;
    for (const listener of this.#listeners) {
      try {
        listener(next, previous);
      } catch (error) {
        this.#context.logger.error("config change listener threw", { key: this.key, err: error });
      }
    }
  }
}

/** Creates the config center over a provider context. */
export function configCenter(context: CoordContext): ConfigCenter {
  const { driver } = context;

  return {
    async get<T>(key: string, options?: CallOptions): Promise<T | undefined> {
      requireKey("get config", "key", key, { absolute: true });
      const kv = await call("get config", options, () => driver.get(key));
      return kv ? decodeJson<T>(kv) : undefined;
    },

    async set(key: string, value: unknown, options?: CallOptions): Promise<void> {
      requireKey("set config", "key", key, { absolute: true });
      const text = encodeJson(value, `config key '${key}'`);
      await call("set config", options, () => driver.put(key, text));
    },

    async delete(key: string, options?: CallOptions): Promise<boolean> {
      requireKey("delete config", "key", key, { absolute: true });
      return await call("delete config", options, () => driver.delete(key));
    },

    async list<T>(prefix: string, options?: CallOptions): Promise<{ key: string; value: T }[]> {
      requireKey("list config", "prefix", prefix, { absolute: true });
      const { kvs } = await call("list config", options, () => driver.list(prefix));
      return kvs.map((kv) => ({ key: kv.key, value: decodeJson<T>(kv) }));
    },

    async getWithVersion<T>(key: string, options?: CallOptions): Promise<Versioned<T> | undefined> {
      requireKey("get config", "key", key, { absolute: true });
      const kv = await call("get config", options, () => driver.get(key));
      return kv ? { value: decodeJson<T>(kv), version: kv.modRevision } : undefined;
    },

    async compareAndSet(
      key: string,
      value: unknown,
      expectedVersion: number,
      options?: CallOptions,
    ): Promise<boolean> {
      requireKey("compare-and-set config", "key", key, { absolute: true });
      if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) {
        throw new RangeError(
          `Cannot compare-and-set config '${key}' as 'expectedVersion' must be a non-negative integer: current value is ${expectedVersion}`,
        );
      }
      const text = encodeJson(value, `config key '${key}'`);
      const result = await call("compare-and-set config", options, () =>
        driver.txn(
          [{ key, target: "modRevision", op: "==", value: expectedVersion }],
          [{ type: "put", key, value: text }],
          [],
        ));
      return result.succeeded;
    },

    watch<T>(key: string, options: { signal?: AbortSignal } = {}): AsyncIterable<ConfigEvent<T>> {
      requireKey("watch config", "key", key, { absolute: true });
      return watchConfig<T>(context, key, false, options);
    },

    watchPrefix<T>(
      prefix: string,
      options: { signal?: AbortSignal } = {},
    ): AsyncIterable<ConfigEvent<T>> {
      requireKey("watch config", "prefix", prefix, { absolute: true });
      return watchConfig<T>(context, prefix, true, options);
    },

    async manager<T>(key: string, options: ManagerOptions<T>): Promise<ConfigManager<T>> {
      requireKey("create config manager", "key", key, { absolute: true });
      if (options === null || typeof options !== "object" || !("default" in options)) {
        throw new TypeError(
          `Cannot create config manager for '${key}' as 'options.default' is required`,
        );
      }
      return await LiveConfigManager.open(context, key, options);
    },
  };
}
