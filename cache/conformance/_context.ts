/**
 * What every cache behaviour file shares: the `test` helper that names and registers a case, and
 * the factories for two providers on one backend and for a bare client of it.
 *
 * @module
 */
import type * as clog from "../../clog/mod.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as cache from "../mod.ts";
import type { CacheDriver } from "../driver.ts";
import type { CacheSuiteOptions } from "../conformance.ts";

/** Two providers on one backend under one fresh key prefix, closed together. */
export interface CachePair extends AsyncDisposable {
  /** The first provider. */
  readonly a: cache.Cache;
  /** The second provider, as another service instance. */
  readonly b: cache.Cache;
  /** What both providers logged. */
  readonly logs: clog.MemorySink;
  /** The key prefix both providers use. */
  readonly keyPrefix: string;
}

/** What each behaviour file of the cache suite is given. */
export interface CacheSuiteContext {
  /** The driver under test. */
  readonly options: CacheSuiteOptions;
  /** Registers one case as `[name] cache: title`, ignored when the backend is not available. */
  test(title: string, fn: () => Promise<void>): void;
  /** Two providers on one backend, as two service instances, under a prefix made from `label`. */
  pair(label: string): Promise<CachePair>;
  /** A client of the backend without a provider: what another service (in Go, say) sees. */
  backend(): Promise<CacheDriver & AsyncDisposable>;
}

/**
 * Builds the shared context of the cache suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and the provider factories.
 */
export function cacheSuiteContext(options: CacheSuiteOptions): CacheSuiteContext {
  const { name } = options;

  async function pair(label: string): Promise<CachePair> {
    const keyPrefix = testKeyspace(label);
    const { logger, logs } = capturingLogger();
    const config = { ...cache.defaultConfig("development"), keyPrefix, loadLeaseMs: 2000 };
    const a = await cache.create(config, { driver: await options.makeDriver(), logger });
    const b = await cache.create(config, { driver: await options.makeDriver(), logger });
    return {
      a,
      b,
      logs,
      keyPrefix,
      async [Symbol.asyncDispose]() {
        await a.close();
        await b.close();
      },
    };
  }

  async function backend(): Promise<CacheDriver & AsyncDisposable> {
    const driver = await options.makeDriver();
    await driver.ping();
    return Object.assign(driver, { [Symbol.asyncDispose]: () => driver.close() });
  }

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] cache: ${title}`, ignore: options.ignore, fn });

  return { options, test, pair, backend };
}
