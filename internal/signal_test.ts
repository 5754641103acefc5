/** The signal helpers every provider's calls wait through. */
import assert from "node:assert/strict";
import {
  abortable,
  optionalSignal,
  releaseUnderSignal,
  sleep,
  underSignal,
  underSignalOption,
} from "./signal.ts";

Deno.test("sleep resolves after its time, rejects with the reason on abort, and at once when aborted", async () => {
  const started = performance.now();
  await sleep(30);
  assert.ok(performance.now() - started >= 25);
  const controller = new AbortController();
  const reason = new Error("stop");
  const slept = sleep(10_000, controller.signal);
  controller.abort(reason);
  await assert.rejects(slept, (error) => error === reason);
  await assert.rejects(sleep(10_000, AbortSignal.abort(reason)), (error) => error === reason);
});

Deno.test("abortable ends the wait, not the work; a promise failing after an abort raises nothing unhandled", async () => {
  let finish!: (value: string) => void;
  const work = new Promise<string>((resolve) => finish = resolve);
  const controller = new AbortController();
  const waited = abortable(work, controller.signal);
  controller.abort(new Error("caller left"));
  await assert.rejects(waited, /caller left/);
  finish("done anyway");
  assert.equal(await work, "done anyway");
  assert.equal(await abortable(Promise.resolve(1), undefined), 1);
  assert.equal(await abortable(Promise.resolve(2), new AbortController().signal), 2);
  await assert.rejects(
    abortable(Promise.reject(new Error("late failure")), AbortSignal.abort(new Error("first"))),
    /first/,
  );
  await new Promise((resolve) => setTimeout(resolve, 0)); // an unhandled rejection would fail here
});

Deno.test("underSignal refuses once aborted without starting; a synchronous throw is a rejection", async () => {
  let started = 0;
  const run = () => {
    started++;
    return Promise.resolve("ran");
  };
  assert.equal(await underSignal(undefined, run), "ran");
  await assert.rejects(underSignal(AbortSignal.abort(new Error("no")), run), /no/);
  assert.equal(started, 1);
  await assert.rejects(
    underSignal(new AbortController().signal, () => {
      throw new Error("sync");
    }),
    /sync/,
  );
});

Deno.test("releaseUnderSignal starts the release even under an aborted signal; only the wait ends", async () => {
  let released = 0;
  await assert.rejects(
    releaseUnderSignal("unlock", AbortSignal.abort(new Error("request over")), () => {
      released++;
      return Promise.resolve();
    }),
    /request over/,
  );
  assert.equal(released, 1, "the release ran");
  assert.equal(await releaseUnderSignal("unlock", undefined, () => Promise.resolve(7)), 7);
});

Deno.test("a signal option that is not an AbortSignal is a TypeError naming the action", async () => {
  assert.equal(optionalSignal("x", undefined), undefined);
  const signal = new AbortController().signal;
  assert.equal(optionalSignal("x", signal), signal);
  assert.throws(
    () => optionalSignal("get key 'k'", 5),
    /^TypeError: Cannot get key 'k' as 'signal' must be an AbortSignal: current value is 5$/,
  );
  await assert.rejects(
    underSignalOption("get key 'k'", {}, () => Promise.resolve()),
    /'signal' must be an AbortSignal/,
  );
  await assert.rejects(
    releaseUnderSignal("unlock", "later", () => Promise.resolve()),
    /'signal' must be an AbortSignal/,
  );
});
