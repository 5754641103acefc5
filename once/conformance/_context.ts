/**
 * What every once behaviour file shares: the `test` helper that names and registers a case, two
 * providers on one backend, and a look at what the backend stored.
 *
 * @module
 */
import assert from "node:assert/strict";
import { testKeyspace } from "../../testing/keyspace.ts";
import * as once from "../mod.ts";
import type { OnceOutcome } from "../driver.ts";
import type { OnceSuiteOptions } from "../conformance.ts";

/** Two providers on one backend under one fresh key prefix, closed together. */
export interface OncePair extends AsyncDisposable {
  /** The first provider. */
  readonly a: once.Once;
  /** The second provider, as another service instance. */
  readonly b: once.Once;
  /** Where the driver keeps a key `k` of these providers: `{keyPrefix}once:k`. */
  readonly prefix: string;
}

/** What each behaviour file of the once suite is given. */
export interface OnceSuiteContext {
  /** The driver under test. */
  readonly options: OnceSuiteOptions;
  /** Registers one case as `[name] once: title`, ignored when the backend is not available. */
  test(title: string, fn: () => Promise<void>): void;
  /** Two providers on one backend, with `config` over the development defaults. */
  pair(config?: Partial<once.OnceConfig>): Promise<OncePair>;
  /** The stored payload of a finished key, as another service reading the backend sees it. */
  storedPayload(key: string): Promise<string>;
}

/**
 * A promise that resolves once `mark` is called: "fn has started".
 *
 * @returns The promise and the function that resolves it.
 */
export function started(): { promise: Promise<void>; mark: () => void } {
  let mark!: () => void;
  const promise = new Promise<void>((resolve) => (mark = resolve));
  return { promise, mark };
}

/**
 * Builds the shared context of the once suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and the provider factories.
 */
export function onceSuiteContext(options: OnceSuiteOptions): OnceSuiteContext {
  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${options.name}] once: ${title}`, ignore: options.ignore, fn });

  const pair = async (config: Partial<once.OnceConfig> = {}): Promise<OncePair> => {
    const full = {
      ...once.defaultConfig("development"),
      keyPrefix: testKeyspace("once"),
      ...config,
    };
    const a = await once.create(full, { driver: options.makeDriver() });
    const b = await once.create(full, { driver: options.makeDriver() });
    return {
      a,
      b,
      prefix: `${full.keyPrefix}once:`,
      async [Symbol.asyncDispose]() {
        await a.close();
        await b.close();
      },
    };
  };

  const storedPayload = async (key: string): Promise<string> => {
    const driver = options.makeDriver();
    try {
      const state = await driver.begin(key, crypto.randomUUID(), "", 1000);
      assert.equal(state.state, "done");
      return (state as { outcome: OnceOutcome }).outcome.payload;
    } finally {
      await driver.close();
    }
  };

  return { options, test, pair, storedPayload };
}
