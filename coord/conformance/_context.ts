/**
 * What every coord behaviour file shares: the `test` helper that names and registers a case
 * (or leaves out one the driver cannot run), and the factories for providers on one backend.
 *
 * @module
 */
import type * as clog from "../../clog/mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as coord from "../mod.ts";
import type { CoordDriver } from "../driver.ts";
import type { CoordSuiteOptions } from "../conformance.ts";

/** One provider with its own driver (a client of the shared backend) and what it logged. */
export interface Instance {
  /** The provider. */
  provider: coord.Coord;
  /** Its driver, for the `sever` and `heal` fault hooks. */
  driver: CoordDriver;
  /** What the provider logged. */
  logs: clog.MemorySink;
}

/** What each behaviour file of the coord suite is given. */
export interface CoordSuiteContext {
  /** The driver under test. */
  readonly options: CoordSuiteOptions;
  /** The short lease TTL the backend grants exactly, used for leases and locks. */
  readonly ttlMs: number;
  /**
   * Registers one case as `[name] coord: title`, ignored when the backend is not available.
   * `unsupported` cases are not registered at all: a driver declares what it cannot do.
   */
  test(title: string, fn: () => Promise<void>, unsupported?: boolean): void;
  /** A new provider on the shared backend, under `prefix` when given. */
  provider(prefix?: string): Promise<Instance>;
  /** Two providers on one backend, each under its own key prefix when `prefixes` are given. */
  pair(prefixes?: readonly [string, string] | []): Promise<[Instance, Instance] & AsyncDisposable>;
}

/**
 * Builds the shared context of the coord suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and the provider factories.
 */
export function coordSuiteContext(options: CoordSuiteOptions): CoordSuiteContext {
  const { name, ttlMs } = options;

  async function provider(prefix?: string): Promise<Instance> {
    const driver = await options.makeDriver();
    const { logger, logs } = capturingLogger();
    const provider = await coord.create(
      {
        ...coord.defaultConfig("development"),
        leaseTtlMs: ttlMs,
        lockTtlMs: ttlMs,
        keyPrefix: prefix,
      },
      { driver, logger },
    );
    return { provider, driver, logs };
  }

  async function pair(
    prefixes: readonly [string, string] | [] = [],
  ): Promise<[Instance, Instance] & AsyncDisposable> {
    const both = [await provider(prefixes[0]), await provider(prefixes[1])] as
      & [Instance, Instance]
      & AsyncDisposable;
    both[Symbol.asyncDispose] = async () => {
      await Promise.all(both.map((instance) => instance.provider.close()));
    };
    return both;
  }

  const test = (title: string, fn: () => Promise<void>, unsupported = false) => {
    if (!unsupported) Deno.test({ name: `[${name}] coord: ${title}`, ignore: options.ignore, fn });
  };

  return { options, ttlMs, test, provider, pair };
}
