/**
 * What the producer, the consumers and the dead-letter path of one provider
 * share: the driver, the logger, the serializer, the topics and the meters.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { Codec } from "./codec.ts";
import type { Counter, Histogram, Metrics } from "../metrics/mod.ts";
import type { Topics } from "./topics.ts";
import type { MqDriver } from "./types.ts";

/** What every part of an mq provider gets from `create`. */
export interface MqContext {
  readonly driver: MqDriver;
  readonly logger: Logger;
  /** The codec of a topic: the one `codecs` names, else the provider's serializer. */
  readonly codecOf: (topic: string) => Codec;
  readonly topics: Topics;
  /** Instruments, when the provider was given metrics. */
  readonly meters?: MqMeters;
}

/** The instruments of an mq provider. */
export interface MqMeters {
  /** `mq_messages_produced_total{topic, outcome}`. */
  readonly produced: Counter<"topic" | "outcome">;
  /** `mq_messages_consumed_total{topic, group, outcome}`. */
  readonly consumed: Counter<"topic" | "group" | "outcome">;
  /** `mq_handler_duration_seconds{topic, group}`. */
  readonly handled: Histogram<"topic" | "group">;
}

/**
 * Defines the instruments of an mq provider.
 *
 * @param metrics Where to record.
 * @returns The instruments.
 */
export function mqMeters(metrics: Pick<Metrics, "counter" | "histogram">): MqMeters {
  return {
    produced: metrics.counter("mq_messages_produced_total", {
      help: "Messages sent, by topic and outcome (ok, error).",
      labels: ["topic", "outcome"],
    }),
    consumed: metrics.counter("mq_messages_consumed_total", {
      help: "Handler runs, by topic, group and outcome (ok, retried, dead_lettered).",
      labels: ["topic", "group", "outcome"],
    }),
    handled: metrics.histogram("mq_handler_duration_seconds", {
      help: "Time a handler took, successful or not.",
      labels: ["topic", "group"],
    }),
  };
}
