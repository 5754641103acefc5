/**
 * The pub/sub operation group: fire-and-forget messages on channels under the
 * provider's key prefix, as Redis's PUBLISH / SUBSCRIBE / PSUBSCRIBE.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { optionalSignal, underSignalOption } from "../internal/signal.ts";
import { decodeValue, encodeValue, type OpsContext } from "./_ops.ts";
import type { DriverSubscription } from "./types.ts";

/** The optional `signal` of a pub/sub call. */
export interface PubSubCallOptions {
  /** Ends the wait with the signal's reason; a message already sent may still be delivered. */
  readonly signal?: AbortSignal;
}

/** Options of {@linkcode PubSubOps.subscribe}. */
export interface SubscribeOptions {
  /**
   * Bounds the subscription's life: aborted before it is active, the call rejects with the
   * signal's reason (and a subscription arriving later is closed at once); aborted afterwards,
   * the subscription closes.
   */
  readonly signal?: AbortSignal;
}

/**
 * What a subscription calls for each message: the decoded message and the channel it was
 * published on (the caller's name, without the key prefix).
 */
export type MessageHandler<T = unknown> = (message: T, channel: string) => void | Promise<void>;

/** An active subscription; closing it (or the provider) stops delivery. */
export interface Subscription extends AsyncDisposable {
  /** The channels or patterns subscribed to, as given. */
  readonly channels: readonly string[];
  /**
   * Unsubscribes and drops messages not handled yet: no handler call starts once it is called
   * (one already running finishes on its own, so a handler may close its own subscription).
   * Closing twice is harmless.
   */
  close(): Promise<void>;
}

/**
 * Pub/sub operations. Delivery is Redis's: at most once and fire-and-forget. A message reaches
 * the subscriptions active when it is published (on any provider sharing the backend and the
 * key prefix); one published while a subscriber's connection is down is lost for it, and after
 * a reconnect the subscriptions are restored. Messages are encoded as cache values (the
 * provider's serializer: JSON by default, strings as JSON strings). A subscription's handler
 * calls run one at a time in arrival order; a handler that throws (or a message that does not
 * decode) is logged at `error` and delivery goes on.
 */
export interface PubSubOps {
  /**
   * Publishes `message` on `channel`.
   *
   * @returns How many subscribers received it, as Redis counts them: one per subscribed
   * provider (connection), plus one per matching pattern subscription of a provider.
   * @throws {TypeError} When the channel is empty, contains U+001F or is not well-formed Unicode,
   * or the serializer refuses the message.
   */
  publish(channel: string, message: unknown, options?: PubSubCallOptions): Promise<number>;
  /**
   * Subscribes `handler` to `channels`; resolves once the backend has confirmed it, so a message
   * published after the promise resolves is received.
   *
   * @throws {TypeError} On no channel, a bad channel name (as `publish`) or a handler that is
   * not a function.
   */
  subscribe<T = unknown>(
    channels: readonly string[],
    handler: MessageHandler<T>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
  /**
   * As `subscribe`, for glob patterns over channel names under the key prefix (Redis's
   * PSUBSCRIBE: `*`, `?`, `[abc]`, `[^a]`, `[a-c]`, `\` escapes); the handler gets the channel
   * each message was published on. Without a key prefix, a pattern also matches other
   * prefixes' channels (`im` + U+001F + name), as keys are shared then.
   */
  psubscribe<T = unknown>(
    patterns: readonly string[],
    handler: MessageHandler<T>,
    options?: SubscribeOptions,
  ): Promise<Subscription>;
}

/** What the pub/sub group needs besides the operations' context. */
export interface PubSubContext extends OpsContext {
  readonly logger: Logger;
  /** Subscriptions open now, closed with the provider. */
  readonly subscriptions: Set<Subscription>;
}

/** Glob metacharacters of Redis patterns, escaped in a key prefix so it matches only itself. */
const GLOB_SPECIAL = /[*?[\]\\]/g;

/** Creates the pub/sub operations over a provider context. */
export function pubSubOps(context: PubSubContext): PubSubOps {
  const { driver, keyspace } = context;
  // The backend form of a name is namespace + name (see `keyspace`).
  const namespace = keyspace.key("subscribe", "x").slice(0, -1);
  const escapedNamespace = namespace.replace(GLOB_SPECIAL, "\\$&");

  const subscribeTo = <T>(
    action: "subscribe" | "psubscribe",
    names: readonly string[],
    handler: MessageHandler<T>,
    options: SubscribeOptions | undefined,
  ): Promise<Subscription> => {
    try {
      const signal = optionalSignal(action, options?.signal);
      if (!Array.isArray(names) || names.length === 0) {
        throw new TypeError(
          `Cannot ${action} as at least one ${
            action === "subscribe" ? "channel" : "pattern"
          } is needed`,
        );
      }
      if (typeof handler !== "function") {
        throw new TypeError(
          `Cannot ${action} as 'handler' must be a function: current value is ${typeof handler}`,
        );
      }
      const what = action === "subscribe" ? "channel" : "pattern";
      const backend = names.map((name) => {
        const full = keyspace.key(`${action} ${what} '${name}'`, name);
        return action === "subscribe" ? full : escapedNamespace + full.slice(namespace.length);
      });
      signal?.throwIfAborted();
      return openSubscription(context, action, [...names], backend, handler, signal, namespace);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  return {
    publish: (channel, message, options) =>
      underSignalOption("publish", options?.signal, async () => {
        const full = keyspace.key(`publish to channel '${channel}'`, channel);
        return await driver.publish(full, encodeValue(context, message, channel));
      }),
    subscribe: (channels, handler, options) => subscribeTo("subscribe", channels, handler, options),
    psubscribe: (patterns, handler, options) =>
      subscribeTo("psubscribe", patterns, handler, options),
  };
}

/** Subscribes on the driver and wraps the result: ordered handler calls, logging, closing. */
async function openSubscription<T>(
  context: PubSubContext,
  action: string,
  names: string[],
  backend: string[],
  handler: MessageHandler<T>,
  signal: AbortSignal | undefined,
  namespace: string,
): Promise<Subscription> {
  const { driver, logger, subscriptions } = context;
  let closed = false;
  // Handler calls in arrival order, one at a time.
  let chain: Promise<void> = Promise.resolve();
  const deliver = (channel: string, text: string) => {
    if (closed) return;
    const name = channel.startsWith(namespace) ? channel.slice(namespace.length) : channel;
    chain = chain.then(async () => {
      if (closed) return;
      try {
        await handler(decodeValue<T>(context, text) as T, name);
      } catch (error) {
        logger.error("cache subscription handler failed", { channel: name, err: error });
      }
    });
  };
  const subscribing = driver.subscribe(backend, action === "psubscribe", deliver);
  let inner: DriverSubscription;
  if (signal === undefined) {
    inner = await subscribing;
  } else {
    inner = await new Promise<DriverSubscription>((resolve, reject) => {
      const onAbort = () => {
        reject(signal.reason);
        // What arrives after the caller left is given back.
        subscribing.then((late) => late.close()).catch(() => {});
      };
      signal.addEventListener("abort", onAbort, { once: true });
      subscribing.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
  let closing: Promise<void> | undefined;
  const subscription: Subscription = {
    channels: names,
    close: () =>
      closing ??= (async () => {
        closed = true;
        subscriptions.delete(subscription);
        signal?.removeEventListener("abort", onSignal);
        await inner.close();
      })(),
    [Symbol.asyncDispose]: () => subscription.close(),
  };
  const onSignal = () => {
    subscription.close().catch((error) =>
      logger.warn("cache subscription close failed", { err: error })
    );
  };
  subscriptions.add(subscription);
  signal?.addEventListener("abort", onSignal, { once: true });
  return subscription;
}
