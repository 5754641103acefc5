/**
 * acquireUnderSignal, the release-on-late-acquire logic every take (lock, lease, registration,
 * campaign) goes through: a caller that aborts is answered at once, and whatever arrives for it
 * afterwards is given back, never held for nobody.
 */
import assert from "node:assert/strict";
import { acquireUnderSignal } from "./acquire.ts";

/** A promise settled by hand. */
function deferred<T>() {
  let resolve!: (value: T) => void, reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => [resolve, reject] = [ok, fail]);
  return { promise, resolve, reject };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

function probe() {
  const released: string[] = [];
  const releaseErrors: unknown[] = [];
  return {
    released,
    releaseErrors,
    release: (value: string) => {
      released.push(value);
      return Promise.resolve();
    },
    onReleaseError: (error: unknown) => releaseErrors.push(error),
  };
}

Deno.test("without a signal it is the acquire itself; a value that arrives before an abort is the caller's", async () => {
  const p = probe();
  assert.equal(
    await acquireUnderSignal(
      "lock",
      undefined,
      () => Promise.resolve("a"),
      p.release,
      p.onReleaseError,
    ),
    "a",
  );
  const controller = new AbortController();
  const got = await acquireUnderSignal(
    "lock",
    controller.signal,
    () => Promise.resolve("b"),
    p.release,
    p.onReleaseError,
  );
  controller.abort(new Error("too late to matter"));
  await tick();
  assert.equal(got, "b");
  assert.deepEqual(p.released, [], "nothing released: the caller has it");
});

Deno.test("an already-aborted signal refuses at once and never starts the acquire", async () => {
  const p = probe();
  let started = 0;
  const reason = new Error("gone");
  await assert.rejects(
    acquireUnderSignal(
      "lock",
      AbortSignal.abort(reason),
      () => {
        started++;
        return Promise.resolve("x");
      },
      p.release,
      p.onReleaseError,
    ),
    (error) => error === reason,
  );
  assert.equal(started, 0);
});

Deno.test("an abort mid-acquire answers the caller at once; what arrives later is released", async () => {
  const p = probe();
  const controller = new AbortController();
  const pending = deferred<string>();
  const reason = new Error("request ended");
  const call = acquireUnderSignal(
    "lock",
    controller.signal,
    () => pending.promise,
    p.release,
    p.onReleaseError,
  );
  controller.abort(reason);
  await assert.rejects(call, (error) => error === reason);
  assert.deepEqual(p.released, [], "not yet: nothing has arrived");
  pending.resolve("late lock");
  await tick();
  assert.deepEqual(p.released, ["late lock"]);
  assert.deepEqual(p.releaseErrors, []);
});

Deno.test("a release that fails is reported, not thrown (the caller is gone)", async () => {
  const controller = new AbortController();
  const pending = deferred<string>();
  const errors: unknown[] = [];
  const failure = new Error("unlock failed");
  const call = acquireUnderSignal(
    "lock",
    controller.signal,
    () => pending.promise,
    () => Promise.reject(failure),
    (error) => errors.push(error),
  );
  controller.abort();
  await assert.rejects(call);
  pending.resolve("late");
  await tick();
  assert.deepEqual(errors, [failure]);
});

Deno.test("an acquire that fails after the abort releases nothing and raises nothing unhandled", async () => {
  const p = probe();
  const controller = new AbortController();
  const pending = deferred<string>();
  const call = acquireUnderSignal(
    "lock",
    controller.signal,
    () => pending.promise,
    p.release,
    p.onReleaseError,
  );
  controller.abort(new Error("gone"));
  await assert.rejects(call, /gone/);
  pending.reject(new Error("backend down"));
  await tick();
  assert.deepEqual(p.released, []);
  assert.deepEqual(p.releaseErrors, []);
});

Deno.test("an acquire that fails before any abort rejects with its own error", async () => {
  const p = probe();
  const controller = new AbortController();
  await assert.rejects(
    acquireUnderSignal(
      "lock",
      controller.signal,
      () => Promise.reject<string>(new Error("backend down")),
      p.release,
      p.onReleaseError,
    ),
    /backend down/,
  );
});

Deno.test("a signal option that is not an AbortSignal is a TypeError; acquire does not start", async () => {
  const p = probe();
  let started = 0;
  await assert.rejects(
    acquireUnderSignal(
      "acquire lock 'x'",
      "soon",
      () => {
        started++;
        return Promise.resolve("x");
      },
      p.release,
      p.onReleaseError,
    ),
    (error) =>
      error instanceof TypeError &&
      error.message ===
        "Cannot acquire lock 'x' as 'signal' must be an AbortSignal: current value is soon",
  );
  assert.equal(started, 0);
});

Deno.test("an acquire that throws synchronously becomes a rejection", async () => {
  const p = probe();
  await assert.rejects(
    acquireUnderSignal(
      "lock",
      new AbortController().signal,
      () => {
        throw new Error("sync");
      },
      p.release,
      p.onReleaseError,
    ),
    /sync/,
  );
});
