/**
 * The behaviour every mq driver must show, as `Deno.test` cases, with several
 * providers (processes) on one backend.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { mqConformance } from "@gochat/kit/mq/conformance";
 * import { mq } from "@gochat/kit";
 * import type { MemoryMqDriver } from "@gochat/kit/mq/driver";
 *
 * const broker = new mq.MemoryMqBroker();
 * mqConformance({
 *   name: "memory",
 *   makeDriver: () => mq.memoryMq({ broker }),
 *   crash: (driver) => (driver as MemoryMqDriver).crash(),
 * });
 * ```
 *
 * @module
 */
import type * as db from "../db/mod.ts";
import type { MqDriver } from "./driver.ts";
import { crashCases, deliveryCases } from "./conformance/delivery.ts";
import { inputCases } from "./conformance/input.ts";
import { killedProcessCases } from "./conformance/killed.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { metricsCases } from "./conformance/metrics.ts";
import { offsetCases } from "./conformance/offsets.ts";
import { outboxCases } from "./conformance/outbox.ts";
import { retryCases } from "./conformance/retry.ts";
import { sendSignalCases } from "./conformance/signal.ts";
import { subscriptionCases, subscriptionSignalCases } from "./conformance/subscription.ts";
import { traceCases } from "./conformance/trace.ts";
import { valueCases } from "./conformance/values.ts";
import { mqSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface MqSuiteOptions {
  /** Driver name for test names (`[redis] …`). */
  readonly name: string;
  /** A new client of the shared backend; one per provider ("process"). */
  makeDriver(): MqDriver | Promise<MqDriver>;
  /**
   * Kills a client the way a crashed process dies: no commit, no goodbye. Drivers that cannot do
   * this in process leave it out and test it with a real process in their own test file.
   */
  crash?(driver: MqDriver): void | Promise<void>;
  /**
   * How a child process makes the same driver, for the killed-process case (left out when
   * absent): `(await import(module))[factory](options)`, so the options must be JSON.
   */
  readonly processDriver?: MqProcessDriver;
  /** A database for the transactional-outbox case (left out when absent). */
  makeDatabase?(): Promise<db.Db>;
  /**
   * Makes a topic with exactly `partitions` partitions on the backend before the suite calls
   * `admin.createTopic` (which then finds it): for brokers without the CreateTopics API, such as
   * the Kafka mock cluster of `@gochat/kit/testing`.
   */
  prepareTopic?(topic: string, partitions: number): Promise<void>;
  /** How long the backend takes to notice a dead member and reassign its partitions. */
  readonly failoverMs?: number;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/** A driver factory a child process can call: an exported function of a module, and its options. */
export interface MqProcessDriver {
  /** The module's URL or absolute path, e.g. `new URL("./nats/mod.ts", import.meta.url)`. */
  readonly module: string | URL;
  /** The exported factory's name, e.g. `"natsMq"`. */
  readonly factory: string;
  /** The factory's options, as JSON. */
  readonly options: Record<string, unknown>;
}

/**
 * Registers the mq conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function mqConformance(options: MqSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = mqSuiteContext(options);
  lifecycleCases(context);
  deliveryCases(context);
  retryCases(context);
  metricsCases(context);
  crashCases(context);
  traceCases(context);
  subscriptionCases(context);
  subscriptionSignalCases(context);
  sendSignalCases(context);
  offsetCases(context);
  valueCases(context);
  inputCases(context);
  outboxCases(context);
  killedProcessCases(context);
}
