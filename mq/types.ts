/**
 * The mq driver interface, with Kafka's semantics: topics split into
 * partitions, a message's key choosing its partition, consumer groups whose
 * members share the partitions, and offsets committed only after the handler
 * succeeded (at-least-once).
 *
 * @module
 */
import { kafkaPartition } from "../internal/hash.ts";

/** A message as the driver stores it: value already serialized. */
export interface OutgoingRecord {
  /** Topic. */
  readonly topic: string;
  /** Key: messages with one key go to one partition and keep their order. */
  readonly key: string | undefined;
  /**
   * Encoded value: text, or bytes from a bytes codec. A driver may deliver bytes for what was sent
   * as text (Kafka does); the topic's codec reads either.
   */
  readonly value: string | Uint8Array;
  /** Headers (trace context, error details of dead letters). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A delivered record. */
export interface IncomingRecord extends OutgoingRecord {
  /** Partition it was read from. */
  readonly partition: number;
  /** Offset within the partition (a stream id for Redis). */
  readonly offset: string;
  /** When it was produced, in Unix ms. */
  readonly timestamp: number;
}

/** A driver's group member as its own code sees it: what a subscription exposes, and `stop`. */
export interface GroupMember {
  /** Partitions this member owns now, as `topic:partition`. */
  assigned(): string[];
  /** Stops fetching; in-flight records finish. */
  pause(): void;
  /** Fetches again. */
  resume(): void;
  /** Leaves cleanly (in-flight records finish and commit), or at once as a crashed process. */
  stop(crash: boolean): Promise<void>;
}

/**
 * The subscription of a driver's group member, kept in `members` (the driver's, which stops them
 * on close or crash) until it is closed.
 *
 * @param member The member.
 * @param members The driver's running members.
 * @returns The subscription the provider gets.
 */
export function memberSubscription<M extends GroupMember>(
  member: M,
  members: Set<M>,
): DriverSubscription {
  members.add(member);
  return {
    assigned: () => member.assigned(),
    pause: () => member.pause(),
    resume: () => member.resume(),
    close: async () => {
      members.delete(member);
      await member.stop(false);
    },
  };
}

/** Called for each record in partition order; the driver commits the record once it resolves. */
export type RecordHandler = (record: IncomingRecord) => Promise<void>;

/** Options of a driver subscription. */
export interface DriverSubscribeOptions {
  /** Where a group without a committed offset starts: the oldest retained record or only new ones. */
  readonly fromBeginning: boolean;
}

/** A running subscription of one group member. */
export interface DriverSubscription {
  /** Partitions this member owns now, as `topic:partition`. */
  assigned(): string[];
  /** Stops fetching; in-flight records finish. */
  pause(): void;
  /** Fetches again. */
  resume(): void;
  /** Leaves the group after in-flight records finished and were committed. */
  close(): Promise<void>;
}

/** Topic administration. */
export interface MqAdmin {
  /** Creates a topic; resolves to false when it already existed. */
  createTopic(topic: string, partitions: number): Promise<boolean>;
  /** Number of partitions of a topic, or undefined when it does not exist. */
  partitions(topic: string): Promise<number | undefined>;
  /** Every topic. */
  listTopics(): Promise<string[]>;
}

/** A message-queue backend. */
export interface MqDriver {
  /** Name for errors and logs: `memory`, `redis`, `kafka`. */
  readonly name: string;
  /** Topic administration. */
  readonly admin: MqAdmin;
  /** Checks the backend answers (connecting first when needed). */
  ping(): Promise<void>;
  /**
   * Appends records, each to the partition its key hashes to (round robin without key). The
   * records and their values are the driver's once passed: the provider never changes or reuses
   * them, so an in-process driver may keep them as they are.
   */
  produce(records: readonly OutgoingRecord[]): Promise<void>;
  /**
   * Joins `group` for `topics` and calls `handler` for every record of the partitions this member
   * is assigned, one at a time per partition, committing each after its handler resolved.
   */
  subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription>;
  /**
   * Puts every key or name the driver writes under `keyPrefix`, the provider's config
   * `keyPrefix`; the provider calls it once, before any other call, when the prefix is not empty.
   * A driver that leaves it out cannot take a prefix (the provider refuses one).
   */
  useKeyPrefix?(keyPrefix: string): void;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

/**
 * The partition of a keyed record, on every driver: Kafka's default partitioner (murmur2 of the
 * key's UTF-8 bytes, made positive, modulo the partition count), so a Go, Java or kafkajs producer
 * and this kit put one key on one partition and per-key order holds across them.
 *
 * @param key The record's key.
 * @param partitions The topic's partition count.
 * @returns The partition.
 */
export function partitionOf(key: string, partitions: number): number {
  return kafkaPartition(key, partitions);
}
