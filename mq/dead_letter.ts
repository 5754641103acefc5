/**
 * Dead-lettering: a message whose handler still fails after `maxRetries`
 * retries, or whose value the serializer cannot decode, is sent to the topic
 * `{topic}{deadLetterSuffix}` (`orders.dlq`) with its key, value and headers,
 * plus headers saying why: `x-error`, `x-error-name`, `x-original-topic`,
 * `x-original-partition`, `x-original-offset`, `x-consumer-group` and
 * `x-attempts`. The dead-letter topic is created even when auto-creation is off.
 *
 * @module
 */
import type { MqContext } from "./_context.ts";
import { UnknownTopicError } from "./topics.ts";
import type { IncomingRecord } from "./types.ts";

/** Sends one record to the dead-letter topic, saying why and after how many attempts. */
export type DeadLetter = (
  record: IncomingRecord,
  error: unknown,
  attempts: number,
) => Promise<void>;

/**
 * The dead-letter path of one consumer group.
 *
 * @param context The provider's driver, logger and topics.
 * @param deadLetterSuffix What the record's topic is suffixed with.
 * @param groupId The group whose handler gave up, in `x-consumer-group`.
 * @returns The function that dead-letters a record.
 */
export function deadLetterer(
  context: MqContext,
  deadLetterSuffix: string,
  groupId: string,
): DeadLetter {
  const { driver, logger, topics } = context;
  return async (record, error, attempts) => {
    const topic = record.topic + deadLetterSuffix;
    await topics.ensure(topic).catch(async (cause) => {
      // A dead-letter topic is created even when auto-creation is off: losing the message is worse.
      if (!(cause instanceof UnknownTopicError)) throw cause;
      await driver.admin.createTopic(topic, 1);
      topics.remember(topic);
    });
    const reason = error instanceof Error ? error : new Error(String(error));
    await driver.produce([{
      topic,
      key: record.key,
      value: record.value,
      headers: {
        ...record.headers,
        "x-error": reason.message.slice(0, 1000),
        "x-error-name": reason.name,
        "x-original-topic": record.topic,
        "x-original-partition": String(record.partition),
        "x-original-offset": record.offset,
        "x-consumer-group": groupId,
        "x-attempts": String(attempts),
      },
    }]);
    logger.error("message dead-lettered after its retries", {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      deadLetterTopic: topic,
      err: reason,
    });
  };
}
