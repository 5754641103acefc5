/**
 * Topics on first use: a topic the provider has seen is remembered; an unknown
 * one is created with `defaultPartitions` when `autoCreateTopics` is on, and
 * refused with {@linkcode UnknownTopicError} when it is off. The producer, the
 * consumers and the dead-letter path all go through here.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { MqDriver } from "./types.ts";

/** A topic that does not exist while `autoCreateTopics` is off. */
export class UnknownTopicError extends Error {
  /** Stable code. */
  readonly code = "MQ_UNKNOWN_TOPIC";
  /** The topic. */
  readonly topic: string;

  /**
   * Creates the error.
   *
   * @param topic The missing topic.
   */
  constructor(topic: string) {
    super(
      `Topic '${topic}' does not exist and autoCreateTopics is off: create it with admin.createTopic`,
    );
    this.name = "UnknownTopicError";
    this.topic = topic;
  }
}

/** The provider's settings that decide what happens to an unknown topic. */
export interface TopicSettings {
  /** Create unknown topics instead of failing. */
  readonly autoCreateTopics: boolean;
  /** Partitions of auto-created topics. */
  readonly defaultPartitions: number;
}

/** The topics one provider has made sure of. */
export interface Topics {
  /**
   * Resolves once `topic` exists, creating it when auto-creation is on.
   *
   * @throws {UnknownTopicError} When it does not exist and auto-creation is off.
   */
  ensure(topic: string): Promise<void>;
  /** Records a topic created elsewhere, so `ensure` asks the backend no more. */
  remember(topic: string): void;
}

/**
 * Tracks the topics of one provider.
 *
 * @param driver The backend.
 * @param logger Where creations are logged.
 * @param settings `autoCreateTopics` and `defaultPartitions`.
 * @returns The topic tracker.
 */
export function topics(driver: MqDriver, logger: Logger, settings: TopicSettings): Topics {
  const known = new Set<string>();
  return {
    async ensure(topic: string): Promise<void> {
      if (known.has(topic)) return;
      if ((await driver.admin.partitions(topic)) === undefined) {
        if (!settings.autoCreateTopics) throw new UnknownTopicError(topic);
        await driver.admin.createTopic(topic, settings.defaultPartitions);
        logger.info("topic created", { topic, partitions: settings.defaultPartitions });
      }
      known.add(topic);
    },
    remember(topic: string): void {
      known.add(topic);
    },
  };
}
