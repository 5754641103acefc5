/**
 * `health.onShutdown` in a real process: a worker under load (tests/testdata/shutdown_worker.ts)
 * gets SIGTERM mid-load; it must exit 0 in time, log the steps in order, and every message it
 * acknowledged must have been handled exactly once or still wait in the topic for the group.
 */
import assert from "node:assert/strict";
import { SHUTDOWN_STEPS } from "../health/mod.ts";
import { serviceUrl } from "../testing/services.ts";

const worker = new URL("./testdata/shutdown_worker.ts", import.meta.url).pathname;
const LOAD_MS = 1500;
const EXIT_TIMEOUT_MS = 10_000;

interface Result {
  acknowledged: number[];
  handled: number[];
  pending: number[] | null;
  failed: number;
}

/** Runs the worker, sends SIGTERM after {@linkcode LOAD_MS}, and returns what it printed. */
async function sigtermMidLoad(args: string[]): Promise<{ result: Result; steps: string[] }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--quiet", worker, ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const stderr = new Response(child.stderr).text();
  await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
  child.kill("SIGTERM");
  const killedAt = performance.now();
  let guard: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    child.status,
    new Promise<undefined>((
      resolve,
    ) => (guard = setTimeout(() => resolve(undefined), EXIT_TIMEOUT_MS))),
  ]).finally(() => clearTimeout(guard));
  if (status === undefined) child.kill("SIGKILL");
  const [out, err] = [await stdout, await stderr];
  await child.status;
  assert.ok(status !== undefined, `no exit ${EXIT_TIMEOUT_MS} ms after SIGTERM:\n${err}`);
  assert.equal(status.code, 0, err);
  console.log(`exited ${Math.round(performance.now() - killedAt)} ms after SIGTERM`);
  const steps = err.split("\n").filter((line) => line.includes('"shutdown step"'))
    .map((line) => JSON.parse(line))
    .map((record) => (assert.equal(record.outcome, "ok", JSON.stringify(record)), record.step));
  const line = out.split("\n").find((line) => line.startsWith('{"result"'));
  assert.ok(line, out);
  return { result: JSON.parse(line).result, steps };
}

/** Every acknowledged message was handled exactly once, or is still pending and was never handled. */
function assertNoneLost({ acknowledged, handled, pending }: Result & { pending: number[] }): void {
  const handledSet = new Set(handled);
  assert.equal(handledSet.size, handled.length, "a message was handled twice");
  assert.equal(new Set(pending).size, pending.length, "a message is pending twice");
  const both = pending.filter((seq) => handledSet.has(seq));
  assert.deepEqual(both, [], "handled messages were not committed");
  const pendingSet = new Set(pending);
  const lost = acknowledged.filter((seq) => !handledSet.has(seq) && !pendingSet.has(seq));
  assert.deepEqual(lost, [], "acknowledged messages were lost");
  assert.ok(acknowledged.length > 100, `too little load: ${acknowledged.length} acknowledged`);
  assert.ok(handled.length > 0, "nothing was handled");
  console.log(
    `acknowledged ${acknowledged.length}, handled ${handled.length}, pending ${pending.length}`,
  );
}

Deno.test("SIGTERM mid-load: the worker exits 0 after every step in order and loses no acknowledged message (memory)", async () => {
  const { result, steps } = await sigtermMidLoad(["memory"]);
  assert.deepEqual(steps, [...SHUTDOWN_STEPS]);
  assert.ok(result.pending !== null);
  assertNoneLost({ ...result, pending: result.pending });
});

const redisUrl = serviceUrl("redis");

Deno.test({
  name:
    "[redis] SIGTERM mid-load: the worker exits 0 and a second consumer finds every acknowledged message it did not handle",
  ignore: redisUrl === undefined,
  async fn() {
    const keyPrefix = `test:shutdown:${crypto.randomUUID()}:`;
    const { result, steps } = await sigtermMidLoad(["redis", redisUrl!, keyPrefix]);
    assert.deepEqual(steps, [...SHUTDOWN_STEPS]);
    const drain = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--quiet", worker, "redis-drain", redisUrl!, keyPrefix],
    }).output();
    const out = new TextDecoder().decode(drain.stdout);
    assert.equal(drain.code, 0, new TextDecoder().decode(drain.stderr));
    const { pending } = JSON.parse(out.split("\n").find((line) => line.startsWith('{"pending"'))!);
    assertNoneLost({ ...result, pending });
  },
});
