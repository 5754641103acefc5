/**
 * Mq conformance: a provider's `ping()` before and after `close()`.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as mq from "../mod.ts";
import { capturingLogger } from "../../testing/logger.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the lifecycle case: `ping()` resolves on a live backend and rejects
 * once the provider is closed.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function lifecycleCases(context: MqSuiteContext): void {
  const { options, test } = context;

  test("ping() resolves on a live backend; once closed it rejects with a DriverError", async () => {
    const provider = await mq.create(mq.defaultConfig("development"), {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    await provider.ping();
    await provider.ping({ signal: new AbortController().signal });
    await provider.close();
    await assert.rejects(provider.ping(), mq.DriverError);
  });
}
