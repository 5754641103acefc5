/**
 * Cache conformance: pub/sub between two providers: delivery by channel and pattern, receiver
 * counts, ordering, closing, handler failures, key-prefix isolation and argument checks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { testKeyspace } from "../../testing/keyspace.ts";
import { capturingLogger } from "../../testing/logger.ts";
import * as cache from "../mod.ts";
import type { CacheSuiteContext } from "./_context.ts";

/** A handler that records what it gets, with the channel. */
function recorder() {
  const received: [unknown, string][] = [];
  return {
    received,
    handler: (message: unknown, channel: string) => void received.push([message, channel]),
  };
}

/** Lets in-flight deliveries arrive, so an assertion that nothing came means something. */
async function settle(
  publish: () => Promise<unknown>,
  marker: { received: unknown[] },
  count: number,
) {
  await publish();
  await eventually(() => assert.equal(marker.received.length, count));
}

/**
 * Registers the pub/sub cases.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function pubSubCases(context: CacheSuiteContext): void {
  const { test, pair, backend, options } = context;

  test("pubsub: a message reaches its channel's subscribers on both providers, in order, and no other channel's", async () => {
    await using env = await pair("pubsub");
    const { a, b } = env;
    const onB = recorder();
    const onA = recorder();
    const other = recorder();
    await using _b = await b.pubsub.subscribe(["room:1"], onB.handler);
    await using _a = await a.pubsub.subscribe(["room:1", "room:3"], onA.handler);
    await using _other = await b.pubsub.subscribe(["room:2"], other.handler);
    assert.equal(await a.pubsub.publish("room:1", { user: 7, online: true }), 2, "both providers");
    assert.equal(await b.pubsub.publish("room:3", "plain text"), 1);
    for (let i = 0; i < 20; i++) await a.pubsub.publish("room:1", i);
    await eventually(() => assert.equal(onB.received.length, 21));
    await eventually(() => assert.equal(onA.received.length, 22));
    assert.deepEqual(onB.received[0], [{ user: 7, online: true }, "room:1"]);
    assert.deepEqual(onB.received.slice(1).map(([m]) => m), [...Array(20).keys()], "in order");
    assert.deepEqual(onA.received[1], ["plain text", "room:3"]);
    assert.deepEqual(other.received, [], "room:2 got nothing");
    assert.equal(await a.pubsub.publish("nobody", 1), 0);
  });

  test("pubsub: a closed subscription receives nothing more; provider close ends its subscriptions", async () => {
    await using env = await pair("pubsub close");
    const { a, b } = env;
    const first = recorder();
    const second = recorder();
    const sub1 = await b.pubsub.subscribe(["c"], first.handler);
    await using _sub2 = await b.pubsub.subscribe(["c"], second.handler);
    assert.deepEqual(sub1.channels, ["c"]);
    await settle(() => a.pubsub.publish("c", 1), first, 1);
    await sub1.close();
    await sub1.close(); // twice is harmless
    // The other subscription on the same channel keeps it alive: a marker shows delivery happened.
    await settle(() => a.pubsub.publish("c", 2), second, 2);
    assert.deepEqual(first.received, [[1, "c"]], "nothing after close");
    await _sub2.close();
    assert.equal(await a.pubsub.publish("c", 3), 0, "nobody listens any more");

    const late = recorder();
    await a.pubsub.subscribe(["d"], late.handler);
    await a.close();
    await eventually(async () =>
      assert.equal(await b.pubsub.publish("d", 1), 0, "the closed provider's subscription is gone")
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(late.received, []);
  });

  test("pubsub: handlers of one subscription run one at a time; a failing handler is logged and delivery goes on", async () => {
    await using env = await pair("pubsub errors");
    const { a, b } = env;
    const seen: number[] = [];
    let running = 0;
    await using _ = await b.pubsub.subscribe<number>(["jobs"], async (n) => {
      assert.equal(++running, 1, "one handler call at a time");
      await new Promise((resolve) => setTimeout(resolve, n % 2 ? 1 : 10));
      running--;
      seen.push(n);
      if (n === 2) throw new Error("handler broke on 2");
    });
    for (let n = 1; n <= 5; n++) await a.pubsub.publish("jobs", n);
    await eventually(() => assert.deepEqual(seen, [1, 2, 3, 4, 5]));
    const failure = env.logs.records.find((r) => r.msg === "cache subscription handler failed");
    assert.ok(failure, "the failure is logged");
    assert.equal(failure.level, "error");
    assert.match(String((failure.fields?.err as Error)?.message), /handler broke on 2/);
  });

  test("pubsub: psubscribe matches glob patterns under the key prefix and reports the channel", async () => {
    await using env = await pair("pubsub pattern");
    const { a, b } = env;
    const rooms = recorder();
    await using _ = await b.pubsub.psubscribe(["room:*", "user:?"], rooms.handler);
    assert.equal(await a.pubsub.publish("room:42", "hi"), 1);
    assert.equal(await a.pubsub.publish("lobby", "no"), 0);
    assert.equal(await a.pubsub.publish("user:10", "no"), 0, "? is one character");
    assert.equal(await a.pubsub.publish("user:1", "yes"), 1);
    await eventually(() => assert.equal(rooms.received.length, 2));
    assert.deepEqual(rooms.received, [["hi", "room:42"], ["yes", "user:1"]]);
  });

  test("pubsub: channels live under the key prefix: another prefix neither receives nor reaches them", async () => {
    await using one = await pair("pubsub ns one");
    await using two = await pair("pubsub ns two");
    const onOne = recorder();
    const onTwo = recorder();
    const patternTwo = recorder();
    await using _1 = await one.b.pubsub.subscribe(["presence"], onOne.handler);
    await using _2 = await two.b.pubsub.subscribe(["presence"], onTwo.handler);
    await using _3 = await two.b.pubsub.psubscribe(["*"], patternTwo.handler);
    assert.equal(await one.a.pubsub.publish("presence", "one's"), 1, "only its own prefix");
    await settle(() => two.a.pubsub.publish("presence", "two's"), onTwo, 1);
    await eventually(() => assert.equal(onOne.received.length, 1));
    assert.deepEqual(onOne.received, [["one's", "presence"]]);
    assert.deepEqual(onTwo.received, [["two's", "presence"]]);
    assert.deepEqual(patternTwo.received, [["two's", "presence"]], "'*' stays in its prefix");
    // The backend channel is prefix, U+001F, channel: what a service in another language publishes to.
    await using raw = await backend();
    assert.equal(await raw.publish(`${one.keyPrefix}\x1fpresence`, '"from Go"'), 1);
    await eventually(() => assert.equal(onOne.received.length, 2));
    assert.deepEqual(onOne.received[1], ["from Go", "presence"]);
  });

  test("pubsub: glob characters in a key prefix match only themselves in psubscribe", async () => {
    const base = testKeyspace("pubsub glob prefix");
    const config = { ...cache.defaultConfig("development"), loadLeaseMs: 2000 };
    const { logger } = capturingLogger();
    const open = async (keyPrefix: string) =>
      await cache.create({ ...config, keyPrefix }, { driver: await options.makeDriver(), logger });
    await using starred = await open(`${base}g*[ab]?\\`);
    await using sibling = await open(`${base}gxxbc`);
    const seen = recorder();
    await using _ = await starred.pubsub.psubscribe(["*"], seen.handler);
    assert.equal(await sibling.pubsub.publish("c", "sibling's"), 0);
    await settle(() => starred.pubsub.publish("c", "own"), seen, 1);
    assert.deepEqual(seen.received, [["own", "c"]]);
  });

  test("pubsub: bad channels, handlers and signals are refused; an aborted subscribe leaves nothing behind", async () => {
    await using env = await pair("pubsub input");
    const { a, b } = env;
    const handler = () => {};
    for (const bad of ["", "a\x1fb", "lone \ud800"]) {
      await assert.rejects(
        a.pubsub.publish(bad, 1),
        (e: Error) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)),
      );
      await assert.rejects(
        a.pubsub.subscribe(["ok", bad], handler),
        (e: Error) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)),
      );
    }
    await assert.rejects(a.pubsub.subscribe([], handler), /at least one channel/);
    await assert.rejects(
      a.pubsub.subscribe(["c"], "nope" as unknown as () => void),
      /'handler' must be a function/,
    );
    await assert.rejects(
      a.pubsub.publish("c", undefined),
      TypeError,
      "the serializer refuses what JSON would lose",
    );
    const controller = new AbortController();
    controller.abort(new Error("request ended"));
    await assert.rejects(
      a.pubsub.subscribe(["c"], handler, { signal: controller.signal }),
      /request ended/,
    );
    await assert.rejects(a.pubsub.publish("c", 1, { signal: controller.signal }), /request ended/);
    assert.equal(await b.pubsub.publish("c", 1), 0, "the refused subscription was not made");

    // A signal aborted later closes the subscription it made.
    const live = new AbortController();
    const bound = recorder();
    await a.withSignal(live.signal).pubsub.subscribe(["bound"], bound.handler);
    await settle(() => b.pubsub.publish("bound", 1), bound, 1);
    live.abort();
    await eventually(async () => assert.equal(await b.pubsub.publish("bound", 2), 0));
    assert.deepEqual(bound.received, [[1, "bound"]]);
  });
}
