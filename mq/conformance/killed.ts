/**
 * Mq conformance: a consumer process killed with SIGKILL mid-run, on a backend that outlives it.
 *
 * @module
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import type { MqSuiteContext } from "./_context.ts";

const WORKER = new URL("./_killed_worker.ts", import.meta.url).href;
const MESSAGES = 300;

/** Reads a child's stdout as it comes, and what it has said so far. */
class Transcript {
  #reader: ReadableStreamDefaultReader<string>;
  text = "";
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }
  /** Reads until `ready` holds; false when the stream ended first. */
  async until(ready: () => boolean): Promise<boolean> {
    while (!ready()) {
      const chunk = await this.#reader.read();
      if (chunk.done) return false;
      this.text += chunk.value;
    }
    return true;
  }
  /** The messages the worker finished: each `done <n>` line. */
  done(): Set<number> {
    return new Set([...this.text.matchAll(/^done (\d+)$/gm)].map((m) => +m[1]));
  }
}

/**
 * Registers the killed-process case when the suite says how a child process makes the driver:
 * 300 keyed messages, a consumer process SIGKILLed after it finished some of its share; every
 * message is handled by the survivor or was acknowledged by the dead one.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function killedProcessCases(context: MqSuiteContext): void {
  const { options, failoverMs, test, providers } = context;
  const spec = options.processDriver;

  test(
    `${MESSAGES} messages, one consumer process killed mid-run — every message handled, none lost`,
    async () => {
      await using env = await providers("killed", 1);
      const [queue] = env.mqs;
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-all",
          WORKER,
          String(spec!.module),
          spec!.factory,
          JSON.stringify(spec!.options),
          env.topic,
        ],
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const worker = new Transcript(child.stdout);
      try {
        assert.ok(
          await worker.until(() => worker.text.includes("holding")),
          `the worker ended before joining:\n${worker.text}`,
        );
        const seen = new Set<number>();
        await using _subscription = await queue.consumer("workers").subscribe<number>(
          [env.topic],
          (message) => void seen.add(message.value),
        );
        for (let i = 0; i < MESSAGES; i++) {
          await queue.producer().sendSync({ topic: env.topic, key: `user-${i % 16}`, value: i });
        }
        // Kill the worker once it has finished some messages, with more of its share to come.
        assert.ok(
          await worker.until(() => worker.done().size >= 20),
          `the worker ended on its own:\n${worker.text}`,
        );
        Deno.kill(child.pid, "SIGKILL");
        await child.status;
        await worker.until(() => false); // everything it printed before dying
        const acknowledged = worker.done();
        assert.ok(acknowledged.size < MESSAGES, `killed mid-run (${acknowledged.size} done)`);
        await eventually(() => {
          const missing = Array.from({ length: MESSAGES }, (_, i) => i).filter((i) =>
            !seen.has(i) && !acknowledged.has(i)
          );
          assert.deepEqual(missing, []);
        }, { timeoutMs: failoverMs * 5 + 20_000 });
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // already dead
        }
        await child.status;
      }
    },
    !spec,
  );
}
