/**
 * What every mq behaviour file shares: the `test` helper that names and registers a case (or
 * leaves out one the driver cannot run), and `providers`, several processes on one backend.
 *
 * @module
 */
import type * as clog from "../../clog/mod.ts";
import type * as metrics from "../../metrics/mod.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as mq from "../mod.ts";
import type { MqDriver } from "../driver.ts";
import type { MqSuiteOptions } from "../conformance.ts";

/** Providers ("processes") on one backend and a new topic of four partitions, closed together. */
export interface MqProviders extends AsyncDisposable {
  /** The topic made for this case. */
  readonly topic: string;
  /** What the providers logged. */
  readonly logs: clog.MemorySink;
  /** Each provider's driver, for the `crash` fault hook. */
  readonly drivers: MqDriver[];
  /** The providers. */
  readonly mqs: mq.Mq[];
}

/** What each behaviour file of the mq suite is given. */
export interface MqSuiteContext {
  /** The driver under test. */
  readonly options: MqSuiteOptions;
  /** How long the backend takes to notice a dead member (`options.failoverMs`, 1000 by default). */
  readonly failoverMs: number;
  /**
   * Registers one case as `[name] mq: title`, ignored when the backend is not available.
   * `unsupported` cases are not registered at all: a driver declares what it cannot do.
   */
  test(title: string, fn: () => Promise<void>, unsupported?: boolean): void;
  /** `count` providers (2 by default) with `config` and `meter`, and a topic named after `label`. */
  providers(
    label: string,
    count?: number,
    config?: Partial<mq.MqConfig>,
    meter?: metrics.Metrics,
  ): Promise<MqProviders>;
}

/**
 * Builds the shared context of the mq suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and `providers`.
 */
export function mqSuiteContext(options: MqSuiteOptions): MqSuiteContext {
  const { name } = options;
  const failoverMs = options.failoverMs ?? 1000;

  async function providers(
    label: string,
    count = 2,
    config: Partial<mq.MqConfig> = {},
    meter?: metrics.Metrics,
  ): Promise<MqProviders> {
    const topic = testKeyspace(label).replace(/[^a-zA-Z0-9._-]+/g, ".").replace(/\.+$/, "");
    const { logger, logs } = capturingLogger();
    const drivers: MqDriver[] = [];
    const list: mq.Mq[] = [];
    for (let i = 0; i < count; i++) {
      const driver = await options.makeDriver();
      drivers.push(driver);
      list.push(
        await mq.create({ ...mq.defaultConfig("development"), retryBackoffMs: 10, ...config }, {
          driver,
          logger,
          metrics: meter,
        }),
      );
    }
    await options.prepareTopic?.(topic, 4);
    await list[0].admin.createTopic(topic, 4);
    return {
      topic,
      logs,
      drivers,
      mqs: list,
      async [Symbol.asyncDispose]() {
        await Promise.all(list.map((provider) => provider.close()));
      },
    };
  }

  const test = (title: string, fn: () => Promise<void>, unsupported = false) => {
    if (!unsupported) Deno.test({ name: `[${name}] mq: ${title}`, ignore: options.ignore, fn });
  };

  return { options, failoverMs, test, providers };
}
