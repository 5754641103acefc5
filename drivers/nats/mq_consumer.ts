/**
 * One member of a consumer group on NATS JetStream: it heart-beats its membership in one KV entry
 * per (group, topic), takes the partitions the sorted member list gives it there (a compare-and-set
 * on the entry's revision, so two members never both own one), pulls each owned partition's
 * records through the group's durable consumer of that partition, and acknowledges each record
 * only after the handler resolved.
 *
 * @module
 */
import type { Consumer, JsMsg, KV } from "nats";
import type { IncomingRecord, RecordHandler } from "../../mq/driver.ts";
import { sleep } from "../../internal/signal.ts";

/** How long one pull request waits for a record (the client's minimum). */
const PULL_EXPIRES_MS = 1000;
/** Headers the driver adds to a record: its key (`=` + key, so "" and none differ) and value type. */
export const KEY_HEADER = "kit-key";
/** Present (`bytes`) when the value was sent as bytes. */
export const TYPE_HEADER = "kit-type";

/** One partition of a subscribed topic: a subject of the topic's stream. */
export interface StreamPartition {
  /** `topic:index`, the partition's name in `assigned()`. */
  readonly name: string;
  /** The topic. */
  readonly topic: string;
  /** The partition's index in its topic. */
  readonly index: number;
  /** The group's durable consumer of this partition. */
  readonly consumer: Consumer;
}

/** One subscribed topic: its group entry and its partitions. */
export interface GroupTopic {
  /** The KV key of the (group, topic) entry: members and partition owners. */
  readonly key: string;
  /** The topic's partitions, by index. */
  readonly partitions: readonly StreamPartition[];
}

/** What the (group, topic) KV entry holds; times are Unix ms. */
interface GroupState {
  /** Member id → when it lapses. */
  members: Record<string, number>;
  /** Partition index → its owner and when the ownership lapses. */
  owners: Record<string, { member: string; expiresAt: number }>;
}

/** What a {@linkcode JetStreamConsumer} works with. */
export interface JetStreamConsumerContext {
  /** The bucket of group entries. */
  readonly kv: KV;
  /** The subscribed topics. */
  readonly topics: readonly GroupTopic[];
  /** Gets each record; a failure is retried after 50 ms until it succeeds. */
  readonly handler: RecordHandler;
  /** How long a member that stopped heart-beating keeps its partitions. */
  readonly sessionTimeoutMs: number;
  /** How often the member renews its membership and partition ownership. */
  readonly heartbeatMs: number;
}

/** A delivered JetStream message as the record the handler gets. */
function messageRecord(partition: StreamPartition, message: JsMsg): IncomingRecord {
  const headers: Record<string, string> = {};
  let key: string | undefined;
  let bytes = false;
  for (const [name, values] of message.headers ?? []) {
    if (name === KEY_HEADER) key = values[0]?.slice(1);
    else if (name === TYPE_HEADER) bytes = values[0] === "bytes";
    else headers[name] = values[0] ?? "";
  }
  return {
    topic: partition.topic,
    partition: partition.index,
    offset: String(message.seq),
    key,
    value: bytes ? message.data.slice() : new TextDecoder().decode(message.data),
    headers,
    timestamp: Math.floor(message.info.timestampNanos / 1e6),
  };
}

/** A running member of a consumer group; it starts heart-beating when created. */
export class JetStreamConsumer {
  readonly #context: JetStreamConsumerContext;
  readonly #memberId = crypto.randomUUID();
  /** Partitions (by name) this member owns and pulls. */
  readonly #owned = new Set<string>();
  /** Partition → its pull loop, running until it is no longer owned. */
  readonly #loops = new Map<string, Promise<void>>();
  /** Timers that keep a record in progress (`+WPI`) while its handler runs. */
  readonly #progressTimers = new Set<ReturnType<typeof setInterval>>();
  #paused = false;
  #stopped = false;
  #crashed = false;
  #wake: (() => void) | undefined;
  readonly #beatLoop: Promise<void>;

  constructor(context: JetStreamConsumerContext) {
    this.#context = context;
    this.#beatLoop = this.#beatUntilStopped();
  }

  /** The names of the partitions this member owns, sorted. */
  assigned(): string[] {
    return [...this.#owned].sort();
  }

  /** Stops taking new records until {@linkcode resume}. */
  pause(): void {
    this.#paused = true;
  }

  /** Takes records again after {@linkcode pause}. */
  resume(): void {
    this.#paused = false;
  }

  /**
   * Stops. Cleanly: lets the record in flight finish, releases the partitions and leaves the
   * group. As a crash (`crash`): at once, acknowledging and releasing nothing more.
   */
  async stop(crash: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#crashed = crash;
    this.#wake?.();
    if (crash) {
      for (const timer of this.#progressTimers) clearInterval(timer);
      this.#progressTimers.clear();
      return;
    }
    await Promise.all(this.#loops.values());
    await this.#beatLoop;
    await this.#heartbeat(true).catch(() => {});
  }

  async #beatUntilStopped(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#heartbeat(false);
      } catch {
        // NATS unreachable: ownership lapses after the session timeout; the next beat tries again.
      }
      if (this.#stopped) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#context.heartbeatMs);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = undefined;
    }
  }

  /** Renews the membership in each topic's entry, then takes, keeps or hands over partitions. */
  async #heartbeat(leaving: boolean): Promise<void> {
    for (const topic of this.#context.topics) {
      if (this.#crashed) return;
      await this.#beatTopic(topic, leaving);
    }
  }

  /** One compare-and-set of a (group, topic) entry, retried while other members write it. */
  async #beatTopic(topic: GroupTopic, leaving: boolean): Promise<void> {
    const { kv, sessionTimeoutMs } = this.#context;
    const me = this.#memberId;
    for (let attempt = 0; attempt < 10; attempt++) {
      const entry = await kv.get(topic.key);
      const state: GroupState = entry?.operation === "PUT" && entry.value.length > 0
        ? entry.json<GroupState>()
        : { members: {}, owners: {} };
      const now = Date.now();
      if (leaving) delete state.members[me];
      else state.members[me] = now + sessionTimeoutMs;
      for (const [member, expiresAt] of Object.entries(state.members)) {
        if (expiresAt <= now) delete state.members[member];
      }
      const members = Object.keys(state.members).sort();
      const mine = new Set<number>();
      for (const partition of topic.partitions) {
        const index = String(partition.index);
        const owner = state.owners[index];
        const live = owner !== undefined && owner.expiresAt > now;
        if (!leaving && members[partition.index % members.length] === me) {
          if (!live || owner.member === me) {
            state.owners[index] = { member: me, expiresAt: now + sessionTimeoutMs };
            mine.add(partition.index);
          }
        } else if (owner?.member === me) {
          // Handed over: kept while its record in flight finishes, then released.
          if (this.#loops.has(partition.name)) {
            state.owners[index] = { member: me, expiresAt: now + sessionTimeoutMs };
          } else delete state.owners[index];
        } else if (!live) delete state.owners[index];
      }
      const value = JSON.stringify(state);
      try {
        if (entry === null) await kv.create(topic.key, value);
        else await kv.update(topic.key, value, entry.revision);
      } catch (error) {
        if (/wrong last sequence|key exists/i.test(String((error as Error)?.message))) continue;
        throw error;
      }
      if (this.#stopped && !leaving) return;
      for (const partition of topic.partitions) {
        if (mine.has(partition.index)) {
          this.#owned.add(partition.name);
          if (!this.#loops.has(partition.name)) this.#startLoop(partition);
        } else this.#owned.delete(partition.name);
      }
      return;
    }
  }

  #startLoop(partition: StreamPartition): void {
    const loop = this.#pullLoop(partition).finally(() => {
      this.#loops.delete(partition.name);
      this.#wake?.(); // release it at once
    });
    this.#loops.set(partition.name, loop);
  }

  /** Pulls one record at a time while the partition is owned: max_ack_pending 1 keeps the order. */
  async #pullLoop(partition: StreamPartition): Promise<void> {
    const owns = () => !this.#stopped && this.#owned.has(partition.name);
    while (owns()) {
      if (this.#paused) {
        await sleep(50);
        continue;
      }
      let message: JsMsg | null;
      try {
        message = await partition.consumer.next({ expires: PULL_EXPIRES_MS });
      } catch {
        if (!owns()) return;
        await sleep(200);
        continue;
      }
      if (message === null) continue;
      if (this.#crashed) return;
      if (!owns() || this.#paused) {
        message.nak(); // arrived after this member let go: to the owner at once
        continue;
      }
      await this.#process(partition, message);
    }
  }

  /** Runs the handler until it succeeds, keeping the record in progress, then acknowledges it. */
  async #process(partition: StreamPartition, message: JsMsg): Promise<void> {
    const record = messageRecord(partition, message);
    const timer = setInterval(() => message.working(), this.#context.heartbeatMs);
    this.#progressTimers.add(timer);
    try {
      for (;;) {
        try {
          await this.#context.handler(record);
          break;
        } catch {
          if (this.#crashed) return;
          if (!this.#stopped && this.#owned.has(partition.name)) {
            await sleep(50);
            continue;
          }
          message.nak(); // not committed: the next owner gets it at once
          return;
        }
      }
      if (this.#crashed) return;
      await message.ackAck().catch(() => {});
    } finally {
      clearInterval(timer);
      this.#progressTimers.delete(timer);
    }
  }
}
