/**
 * Consumer group members: `subscribe` joins a group for some topics and hands
 * each message to the handler inside the trace its producer wrote. A message is
 * committed only after its handler succeeded; a failing handler is retried with
 * doubling backoff up to `maxRetries` times, then the message is dead-lettered
 * (see `dead_letter.ts`). Closing aborts the signal of in-flight messages, and
 * one that fails then is neither retried nor committed: it comes again.
 *
 * @module
 */
import type { Call } from "../internal/call.ts";
import { optionalSignal, sleep } from "../internal/signal.ts";
import type { MqContext } from "./_context.ts";
import type { Codec } from "./codec.ts";
import { type DeadLetter, deadLetterer } from "./dead_letter.ts";
import { consumeInSpan, traceOf } from "./trace.ts";
import { withTrace } from "../clog/mod.ts";
import { kitTracer } from "../internal/otel.ts";
import type { DriverSubscription, IncomingRecord } from "./types.ts";

const NO_LABELS = { topic: "", group: "" };

/**
 * A message delivered to a handler. Its {@linkcode Call} `signal` aborts when the subscription
 * closes (`close()`, its `signal`, the provider's `close()`): a handler that stops then leaves
 * its message uncommitted, to come again.
 */
export interface ConsumedMessage<T = unknown> extends Call {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset within the partition. */
  readonly offset: string;
  /** Key, if any. */
  readonly key: string | undefined;
  /** Decoded value. */
  readonly value: T;
  /** Headers, `traceparent` included. */
  readonly headers: Readonly<Record<string, string>>;
  /** When it was produced, in Unix ms. */
  readonly timestamp: number;
  /** 1 on the first delivery to the handler, 2 on the first retry, … */
  readonly attempt: number;
}

/** Handles one message; a throw or rejection retries it, then dead-letters it. */
export type Handler<T = unknown> = (message: ConsumedMessage<T>) => void | Promise<void>;

/** A running subscription. */
export interface Subscription extends AsyncDisposable {
  /** Partitions this member owns now, as `topic:partition`. */
  assigned(): string[];
  /** Stops taking new messages. */
  pause(): void;
  /** Takes messages again. */
  resume(): void;
  /**
   * Aborts the `signal` of in-flight messages, waits for their handlers (a message whose handler
   * resolved is committed, one whose handler failed comes again), then leaves the group.
   */
  close(): Promise<void>;
}

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Where a new group starts: `earliest` (every retained message) or `latest` (only new ones).
   * @default {"earliest"}
   */
  readonly start?: "earliest" | "latest";
  /**
   * Closes the subscription when it aborts, as `close()` does: the message in hand finishes (or
   * stays uncommitted, to come again), then the member leaves the group.
   */
  readonly signal?: AbortSignal;
}

/** A consumer group member factory. */
export interface Consumer {
  /** The group. */
  readonly groupId: string;
  /** Joins the group for `topics`. */
  subscribe<T = unknown>(
    topics: readonly string[],
    handler: Handler<T>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
}

/** The provider's settings a consumer uses. */
export interface ConsumerSettings {
  /** Extra attempts of a failing handler before the message is dead-lettered. */
  readonly maxRetries: number;
  /** First retry delay; doubles on each attempt. */
  readonly retryBackoffMs: number;
  /** Dead-letter topic name: the message's topic plus this suffix. */
  readonly deadLetterSuffix: string;
}

/**
 * The consumers of one provider.
 *
 * @param context The provider's driver, logger, serializer, topics and meters.
 * @param settings Retries and dead-lettering.
 * @param subscriptions The provider's open subscriptions, closed with it; each joins on
 * `subscribe` and leaves on its `close()`.
 * @returns A function giving the consumer of a group.
 */
export function consumers(
  context: MqContext,
  settings: ConsumerSettings,
  subscriptions: Set<Subscription>,
): (groupId: string) => Consumer {
  const { driver, logger, topics } = context;
  return (groupId) => {
    if (typeof groupId !== "string" || groupId.length === 0) {
      throw new TypeError(
        `Cannot create consumer as 'groupId' must be a non-empty string: current value is ${
          JSON.stringify(groupId)
        }`,
      );
    }
    const subscribe = async <T>(
      topicNames: readonly string[],
      handler: Handler<T>,
      options: SubscribeOptions = {},
    ): Promise<Subscription> => {
      if (
        !Array.isArray(topicNames) || topicNames.length === 0 ||
        topicNames.some((topic) => typeof topic !== "string" || !topic)
      ) {
        throw new TypeError(
          `Cannot subscribe group '${groupId}' as 'topics' must be a non-empty list of topic names`,
        );
      }
      if (typeof handler !== "function") {
        throw new TypeError(
          `Cannot subscribe group '${groupId}' as 'handler' must be a function`,
        );
      }
      const signal = optionalSignal(`subscribe group '${groupId}'`, options.signal);
      signal?.throwIfAborted();
      for (const topic of topicNames) await topics.ensure(topic);
      // Aborted by close(): the signal of every message this subscription delivers.
      const closing = new AbortController();
      const deadLetter = deadLetterer(context, settings.deadLetterSuffix, groupId);
      const deliver = deliverer(context, settings, groupId, handler, deadLetter, closing.signal);
      const inner: DriverSubscription = await driver.subscribe(groupId, topicNames, {
        fromBeginning: (options.start ?? "earliest") === "earliest",
      }, deliver);
      let closed: Promise<void> | undefined;
      const onAbort = () =>
        void close().catch((error) =>
          logger.warn("closing an aborted subscription failed", { group: groupId, err: error })
        );
      const close = (): Promise<void> =>
        closed ??= (async () => {
          closing.abort();
          signal?.removeEventListener("abort", onAbort);
          subscriptions.delete(subscription);
          await inner.close();
        })();
      const subscription: Subscription = {
        assigned: () => inner.assigned(),
        pause: () => inner.pause(),
        resume: () => inner.resume(),
        close,
        [Symbol.asyncDispose]: close,
      };
      subscriptions.add(subscription);
      if (signal?.aborted) onAbort(); // aborted while joining
      else signal?.addEventListener("abort", onAbort, { once: true });
      return subscription;
    };
    return { groupId, subscribe };
  };
}

/** What a handler that returned at once, without failing, makes the driver await. */
const HANDLED: Promise<void> = Promise.resolve();

/**
 * What the driver calls with each record: decodes it and runs the handler in the record's trace,
 * retrying with doubling backoff, then dead-letters it. Resolves once the record may be committed.
 */
function deliverer<T>(
  context: MqContext,
  settings: ConsumerSettings,
  groupId: string,
  handler: Handler<T>,
  deadLetter: DeadLetter,
  closing: AbortSignal,
): (record: IncomingRecord) => Promise<void> {
  const { logger, codecOf } = context;
  const consumed = context.meters?.consumed;
  const handled = context.meters?.handled;
  // A subscription's records mostly come from one topic: its codec is looked up when it changes.
  let codecTopic: string | undefined;
  let codec: Codec | undefined;
  // Messages sent outside a trace may share one frozen, empty header object: it is read once.
  let untraced: object | undefined;
  const traceIn = (headers: IncomingRecord["headers"]): ReturnType<typeof traceOf> => {
    if (headers === untraced) return undefined;
    const trace = traceOf(headers);
    if (trace === undefined && Object.isFrozen(headers)) untraced = headers;
    return trace;
  };
  /** Runs the handler once, retrying on failure: resolves once the record may be committed. */
  const run = (
    record: IncomingRecord,
    value: T,
    tracer: ReturnType<typeof kitTracer>,
    trace: ReturnType<typeof traceOf>,
    attempt: number,
  ): Promise<void> => {
    const message: ConsumedMessage<T> = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      key: record.key,
      value,
      headers: record.headers,
      timestamp: record.timestamp,
      attempt,
      signal: closing,
    };
    const started = handled ? performance.now() : 0;
    let outcome: unknown;
    try {
      if (tracer === undefined && trace === undefined) outcome = handler(message);
      else {
        const handle = () => handler(message);
        outcome = tracer !== undefined
          ? consumeInSpan(tracer, {
            system: context.driver.name,
            topic: record.topic,
            partition: record.partition,
            offset: record.offset,
            group: groupId,
            attempt,
            headers: record.headers,
          }, handle)
          : withTrace(trace!.traceId, handle, { spanId: trace!.spanId });
      }
    } catch (error) {
      return retry(record, value, tracer, trace, attempt, started, error);
    }
    // A handler that returned without a promise is done: no promise is made for it.
    if (typeof (outcome as PromiseLike<void> | undefined)?.then !== "function") {
      succeeded(record, started);
      return HANDLED;
    }
    return Promise.resolve(outcome).then(
      () => succeeded(record, started),
      (error) => retry(record, value, tracer, trace, attempt, started, error),
    );
  };
  const succeeded = (record: IncomingRecord, started: number): void => {
    if (handled === undefined && consumed === undefined) return;
    const labels = { topic: record.topic, group: groupId };
    handled?.observe((performance.now() - started) / 1000, labels);
    consumed?.inc({ ...labels, outcome: "ok" });
  };
  const retry = async (
    record: IncomingRecord,
    value: T,
    tracer: ReturnType<typeof kitTracer>,
    trace: ReturnType<typeof traceOf>,
    attempts: number,
    started: number,
    error: unknown,
  ): Promise<void> => {
    // Only with metrics: a message without them allocates no labels.
    const labels = handled || consumed ? { topic: record.topic, group: groupId } : NO_LABELS;
    handled?.observe((performance.now() - started) / 1000, labels);
    // Failed while closing (perhaps told to stop): not retried nor dead-lettered, not
    // committed, so the record comes again.
    if (closing.aborted) throw error;
    if (attempts > settings.maxRetries) {
      consumed?.inc({ ...labels, outcome: "dead_lettered" });
      return await deadLetter(record, error, attempts);
    }
    consumed?.inc({ ...labels, outcome: "retried" });
    logger.warn("handler failed; retrying", {
      topic: record.topic,
      offset: record.offset,
      attempt: attempts,
      err: error,
    });
    await sleep(Math.min(settings.retryBackoffMs * 2 ** (attempts - 1), 30_000));
    return await run(record, value, tracer, trace, attempts + 1);
  };
  return (record) => {
    if (record.topic !== codecTopic) {
      codec = codecOf(record.topic);
      codecTopic = record.topic;
    }
    let value: T;
    try {
      value = (codec as Codec).decode(record.value) as T;
    } catch (error) {
      return deadLetter(
        record,
        new TypeError(`message value cannot be decoded: ${(error as Error).message}`),
        0,
      );
    }
    // Without an SDK, clog's trace from the headers, read once; with one, a span per run.
    const tracer = kitTracer();
    return run(
      record,
      value,
      tracer,
      tracer === undefined ? traceIn(record.headers) : undefined,
      1,
    );
  };
}
