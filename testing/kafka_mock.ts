/**
 * A Kafka-protocol cluster for tests, no Kafka installed: librdkafka's mock cluster (Debian's
 * `librdkafka-dev`), started from `kafka_mock/mock_cluster.c`, compiled once with the system's C
 * compiler and steered over its stdin (topics with exact partition counts, a partition's leader,
 * a broker down and up, injected request errors). Its limits: no CreateTopics API, and the
 * controller it reports (id 0) does not exist, so admin calls and an idempotent producer's
 * InitProducerId, both sent to the controller, fail against it.
 *
 * @module
 */

const SOURCE = new URL("./kafka_mock/mock_cluster.c", import.meta.url);

/** A running mock cluster. */
export interface KafkaMock extends AsyncDisposable {
  /** `host:port` of every broker, for `kafkaMq({ brokers })`. */
  readonly brokers: string[];
  /** Creates a topic with exactly `partitions` partitions. */
  createTopic(topic: string, partitions: number): Promise<void>;
  /** Moves a partition's leader to broker `broker` (ids start at 1). */
  setLeader(topic: string, partition: number, broker: number): Promise<void>;
  /** Disconnects a broker and refuses its connections (-1: every broker); leaders stay. */
  brokerDown(broker: number): Promise<void>;
  /** Lets a broker accept connections again. */
  brokerUp(broker: number): Promise<void>;
  /** Fails the next `count` requests of Kafka API `apiKey` (0 is Produce) with error `code`. */
  failRequests(apiKey: number, count: number, code: number): Promise<void>;
  /** Stops the cluster. */
  close(): Promise<void>;
}

/** Whether a C compiler and librdkafka's mock header are here to build the cluster. */
export async function kafkaMockAvailable(): Promise<boolean> {
  try {
    await Deno.stat("/usr/include/librdkafka/rdkafka_mock.h");
    const cc = await new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .output();
    return cc.success;
  } catch {
    return false;
  }
}

/** The compiled harness, built once per source version into the user's cache. */
async function binary(): Promise<string> {
  const source = await Deno.readFile(SOURCE);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", source));
  const tag = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${
    Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`
  }/gochat-kit`;
  const path = `${dir}/kafka_mock-${tag}`;
  try {
    await Deno.stat(path);
    return path;
  } catch {
    // not built yet
  }
  await Deno.mkdir(dir, { recursive: true });
  const partial = `${path}.${crypto.randomUUID()}`;
  const build = await new Deno.Command("cc", {
    args: ["-O2", "-o", partial, SOURCE.pathname, "-lrdkafka"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!build.success) {
    throw new Error(
      `Cannot build the Kafka mock cluster (is librdkafka-dev installed?): ${
        new TextDecoder().decode(build.stderr)
      }`,
    );
  }
  await Deno.rename(partial, path); // atomic: parallel test files may build at once
  return path;
}

/** Lines of a byte stream, one at a time. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
    }
  }
}

/**
 * Starts a mock cluster of `brokers` brokers on loopback.
 *
 * @param options How many brokers (ids 1 … n).
 * @returns The running cluster; close it (or `await using`) to stop it.
 * @throws {Error} When it cannot be built or started.
 */
export async function startKafkaMock(options: { brokers?: number } = {}): Promise<KafkaMock> {
  const process = new Deno.Command(await binary(), {
    args: [String(options.brokers ?? 3)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const output = lines(process.stdout);
  const first = await output.next();
  if (first.done || !first.value.startsWith("bootstrap ")) {
    throw new Error(`The Kafka mock cluster did not start: ${first.value ?? "no output"}`);
  }
  const brokers = first.value.slice("bootstrap ".length).split(",");
  const writer = process.stdin.getWriter();
  const encoder = new TextEncoder();
  let queue: Promise<unknown> = Promise.resolve();
  const send = (command: string): Promise<void> => {
    const result = queue.then(async () => {
      await writer.write(encoder.encode(`${command}\n`));
      const answer = await output.next();
      if (answer.done) throw new Error(`The Kafka mock cluster stopped during '${command}'`);
      if (answer.value !== "ok") {
        throw new Error(`The Kafka mock cluster refused '${command}': ${answer.value}`);
      }
    });
    queue = result.catch(() => {});
    return result;
  };
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      await queue;
      await writer.close().catch(() => {});
      await process.status;
      await output.return(undefined);
    })();
  return {
    brokers,
    createTopic: (topic, partitions) => send(`topic ${topic} ${partitions}`),
    setLeader: (topic, partition, broker) => send(`leader ${topic} ${partition} ${broker}`),
    brokerDown: (broker) => send(`down ${broker}`),
    brokerUp: (broker) => send(`up ${broker}`),
    failRequests: (apiKey, count, code) => send(`error ${apiKey} ${count} ${code}`),
    close,
    [Symbol.asyncDispose]: close,
  };
}
