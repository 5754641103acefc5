/**
 * Mq conformance: the transactional outbox relay.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import * as db from "../../db/mod.ts";
import * as mq from "../mod.ts";
import type { MqSuiteContext } from "./_context.ts";

/**
 * Registers the outbox case: the relay publishes each committed event and none
 * from a rolled-back transaction.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function outboxCases(context: MqSuiteContext): void {
  const { options, test, providers } = context;

  test(
    "the outbox relay publishes each committed event and none from a rolled-back transaction",
    async () => {
      await using env = await providers("outbox", 1);
      const [queue] = env.mqs;
      await using database = await options.makeDatabase!();
      const table = `kit_outbox_${env.topic.replace(/\W+/g, "_")}`.slice(0, 60);
      const box = mq.outbox(database, queue.producer(), { table });
      await database.migrate([box.migration]);
      const seen: unknown[] = [];
      await using _subscription = await queue.consumer("g").subscribe(
        [env.topic],
        (m) => void seen.push(m.value),
      );
      await database.transaction((tx) => box.add(tx, { topic: env.topic, key: "a", value: 1 }));
      await assert.rejects(database.transaction(async (tx) => {
        await box.add(tx, { topic: env.topic, key: "a", value: 2 });
        throw new Error("rolled back");
      }));
      await database.transaction((tx) => box.add(tx, { topic: env.topic, key: "a", value: 3 }));
      // A Snowflake id beyond 2^53 keeps all its digits through the table and the relay.
      const id = 1234567890123456789n;
      await database.transaction((tx) =>
        box.add(tx, { topic: env.topic, key: "a", value: { id } })
      );
      assert.equal(await box.relayOnce(), 3);
      assert.equal(await box.relayOnce(), 0);
      await eventually(() => assert.deepEqual(seen, [1, 3, { id }]), { timeoutMs: 10_000 });
      await database.sql`drop table ${db.identifier(table)}`;
    },
    !options.makeDatabase,
  );
}
