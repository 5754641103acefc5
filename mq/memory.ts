/**
 * The standalone mq driver: an in-process partitioned log with retention,
 * consumer groups that rebalance partitions among their members, and
 * committed offsets. Several drivers on one broker act as several processes.
 *
 * @module
 */
import { closedDriverError, DriverError } from "../internal/errors.ts";
import {
  type DriverSubscribeOptions,
  type DriverSubscription,
  type IncomingRecord,
  type MqAdmin,
  type MqDriver,
  type OutgoingRecord,
  partitionOf,
  type RecordHandler,
} from "./types.ts";

interface Partition {
  /**
   * The records as produced. A delivery is made from one only when it is handed out, so the log
   * keeps one small object per record (old objects cost the garbage collector, young ones little).
   */
  records: OutgoingRecord[];
  /** When each of `records` was stored. */
  timestamps: number[];
  /** Offset of records[0]; grows as retention drops old records. */
  base: number;
  /** Wakes readers waiting for new records. */
  waiters: Set<() => void>;
}

interface Member {
  id: string;
  topics: readonly string[];
  options: DriverSubscribeOptions;
  handler: RecordHandler;
  driver: MemoryMqDriver;
  owned: Set<string>;
  paused: boolean;
  stopped: boolean;
  wake: Set<() => void>;
  /** The partition loops this member ran; close() waits for them. */
  loops: Set<Promise<void>>;
}

/** The committed position of a group on one partition, updated in place by its loop. */
interface Committed {
  /** Next offset to deliver. */
  next: number;
}

interface Group {
  members: Map<string, Member>;
  /** Next offset to deliver, by `topic:partition`. */
  committed: Map<string, Committed>;
  /** The loop consuming a partition now, so a new owner starts only after the old one stopped. */
  running: Map<string, { loop: Promise<void>; member: Member }>;
}

/** Options of {@linkcode MemoryMqBroker}. */
export interface MemoryMqOptions {
  /**
   * Records kept per partition; older ones are dropped (retention), in chunks of a quarter.
   * @default {100000}
   */
  readonly retention?: number;
}

const REDELIVERY_DELAY_MS = 50;

/** The shared log behind memory drivers: the "cluster". */
export class MemoryMqBroker {
  readonly #topics = new Map<string, Partition[]>();
  readonly #groups = new Map<string, Group>();
  readonly #retention: number;
  #roundRobin = 0;

  /**
   * Creates an empty broker.
   *
   * @param options Retention per partition.
   */
  constructor(options: MemoryMqOptions = {}) {
    this.#retention = options.retention ?? 100_000;
    if (!Number.isSafeInteger(this.#retention) || this.#retention < 1) {
      throw new RangeError(
        `Cannot create memory broker as 'retention' must be a positive integer: current value is ${this.#retention}`,
      );
    }
  }

  /** @internal */
  createTopic(topic: string, partitions: number): boolean {
    if (this.#topics.has(topic)) return false;
    this.#topics.set(
      topic,
      Array.from({ length: partitions }, () => ({
        records: [],
        timestamps: [],
        base: 0,
        waiters: new Set(),
      })),
    );
    for (const group of this.#groups.values()) {
      if ([...group.members.values()].some((member) => member.topics.includes(topic))) {
        this.#rebalance(group);
      }
    }
    return true;
  }

  /** @internal */
  partitions(topic: string): number | undefined {
    return this.#topics.get(topic)?.length;
  }

  /** @internal */
  topics(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /** Partitions of recent keys, by partition count: keys repeat, and murmur2 encodes each. */
  readonly #keyPartitions = new Map<number, Map<string, number>>();

  #partitionOf(key: string, count: number): number {
    let known = this.#keyPartitions.get(count);
    if (known === undefined) this.#keyPartitions.set(count, known = new Map());
    let index = known.get(key);
    if (index === undefined) {
      if (known.size >= 10_000) known.clear();
      known.set(key, index = partitionOf(key, count));
    }
    return index;
  }

  /** @internal */
  append(records: readonly OutgoingRecord[]): void {
    for (const record of records) {
      if (!this.#topics.has(record.topic)) {
        throw new Error(`topic '${record.topic}' does not exist`);
      }
    }
    const timestamp = Date.now();
    // A batch is mostly of one topic: its partitions are looked up when the topic changes.
    let topic: string | undefined;
    let partitions: Partition[] = [];
    for (const record of records) {
      if (record.topic !== topic) {
        topic = record.topic;
        partitions = this.#topics.get(topic) as Partition[];
      }
      const index = record.key === undefined
        ? this.#roundRobin++ % partitions.length
        : this.#partitionOf(record.key, partitions.length);
      const partition = partitions[index];
      // Kept as given, not copied: a produced record is read-only (the kit's producer makes a new
      // one per message, its value already encoded, so consumers never share the sender's value).
      partition.records.push(record);
      partition.timestamps.push(timestamp);
      // Trimmed in chunks, so retention costs O(1) per record instead of a shift per append.
      if (partition.records.length > this.#retention + Math.max(1024, this.#retention >> 2)) {
        const drop = partition.records.length - this.#retention;
        partition.records.splice(0, drop);
        partition.timestamps.splice(0, drop);
        partition.base += drop;
      }
      // Most appends find nobody waiting: no iterator is made then.
      if (partition.waiters.size > 0) {
        for (const wake of partition.waiters) wake();
        partition.waiters.clear();
      }
    }
  }

  /** @internal */
  join(group: string, member: Member): void {
    let state = this.#groups.get(group);
    if (!state) {
      state = { members: new Map(), committed: new Map(), running: new Map() };
      this.#groups.set(group, state);
    }
    state.members.set(member.id, member);
    this.#rebalance(state);
  }

  /** @internal */
  leave(group: string, member: Member): void {
    const state = this.#groups.get(group);
    if (!state?.members.delete(member.id)) return;
    member.stopped = true;
    this.#wake(member);
    this.#rebalance(state);
  }

  /** Gives every partition of the group's topics to one member, round robin over sorted ids. */
  #rebalance(group: Group): void {
    const members = [...group.members.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    const owners = new Map<string, Member>();
    const topics = [...new Set(members.flatMap((member) => member.topics))].sort();
    let index = 0;
    for (const topic of topics) {
      const count = this.#topics.get(topic)?.length ?? 0;
      for (let partition = 0; partition < count; partition++) {
        const interested = members.filter((member) => member.topics.includes(topic));
        if (interested.length === 0) continue;
        owners.set(`${topic}:${partition}`, interested[index++ % interested.length]);
      }
    }
    for (const member of members) {
      for (const key of member.owned) {
        if (owners.get(key) !== member) member.owned.delete(key);
      }
    }
    for (const [key, member] of owners) {
      if (member.owned.has(key)) continue;
      member.owned.add(key);
      // Wait for the previous owner's record in flight, unless (or until) that process dies.
      const previous = group.running.get(key);
      const wait = previous
        ? Promise.race([previous.loop, previous.member.driver.dead])
        : Promise.resolve();
      const loop = wait.then(() => this.#consume(group, member, key));
      group.running.set(key, { loop, member });
      member.loops.add(loop);
    }
    for (const member of members) this.#wake(member);
  }

  #wake(member: Member): void {
    for (const wake of member.wake) wake();
    member.wake.clear();
  }

  /** Delivers one partition to one member, in order, until the member no longer owns it. */
  async #consume(group: Group, member: Member, key: string): Promise<void> {
    const separator = key.lastIndexOf(":");
    const topic = key.slice(0, separator);
    const index = Number(key.slice(separator + 1));
    const partition = (this.#topics.get(topic) as Partition[])[index];
    const { driver } = member;
    let committed: Committed | undefined;
    while (!member.stopped && member.owned.has(key) && !driver.crashed) {
      if (member.paused) {
        await new Promise<void>((resolve) => member.wake.add(resolve));
        continue;
      }
      if (committed === undefined) {
        committed = group.committed.get(key);
        if (committed === undefined) {
          committed = {
            next: member.options.fromBeginning
              ? partition.base
              : partition.base + partition.records.length,
          };
          group.committed.set(key, committed);
        }
      }
      // Records dropped by retention are gone.
      const next = committed.next < partition.base ? partition.base : committed.next;
      const stored = partition.records[next - partition.base];
      if (stored === undefined) {
        await new Promise<void>((resolve) => {
          partition.waiters.add(resolve);
          member.wake.add(resolve);
        });
        continue;
      }
      const record: IncomingRecord = {
        topic: stored.topic,
        key: stored.key,
        value: stored.value,
        headers: stored.headers,
        partition: index,
        offset: String(next),
        timestamp: partition.timestamps[next - partition.base],
      };
      try {
        await member.handler(record);
      } catch {
        // Not committed: the record comes again, to this member or the next owner.
        await new Promise((resolve) => setTimeout(resolve, REDELIVERY_DELAY_MS));
        continue;
      }
      // A crashed process commits nothing, not even the record it just finished.
      if (driver.crashed) return;
      committed.next = next + 1;
    }
  }
}

/** Options of {@linkcode memoryMq}. */
export interface MemoryMqDriverOptions extends MemoryMqOptions {
  /** Share one broker between drivers (several processes on one cluster); a new one by default. */
  readonly broker?: MemoryMqBroker;
}

/** How long a tight loop of sends may hold the event loop before produce yields to it. */
const YIELD_EVERY_MS = 10;

/** A memory mq driver: one client (one "process") of a {@linkcode MemoryMqBroker}. */
export class MemoryMqDriver implements MqDriver {
  /** Always `memory`. */
  readonly name = "memory";
  /** The broker this driver uses. */
  readonly broker: MemoryMqBroker;
  /** Topic administration. */
  readonly admin: MqAdmin;
  #crashed = false;
  #closed = false;
  #died!: () => void;
  /** Resolves when {@linkcode MemoryMqDriver.crash} is called. */
  readonly dead: Promise<void> = new Promise((resolve) => (this.#died = resolve));
  readonly #members = new Set<{ group: string; member: Member }>();

  /**
   * Creates a client of `broker`.
   *
   * @param broker The broker.
   */
  constructor(broker: MemoryMqBroker) {
    this.broker = broker;
    this.admin = {
      createTopic: (topic, partitions) =>
        this.#run("createTopic", () => broker.createTopic(topic, partitions)),
      partitions: (topic) => this.#run("partitions", () => broker.partitions(topic)),
      listTopics: () => this.#run("listTopics", () => broker.topics()),
    };
  }

  /** Whether {@linkcode MemoryMqDriver.crash} was called. */
  get crashed(): boolean {
    return this.#crashed;
  }

  #yieldedAt = performance.now();

  #run<T>(operation: string, fn: () => T): Promise<T> {
    if (this.#closed || this.#crashed) {
      return Promise.reject(
        closedDriverError(this.name, operation),
      );
    }
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(new DriverError(this.name, operation, error));
    }
  }

  ping(): Promise<void> {
    return this.#run("ping", () => {});
  }

  produce(records: readonly OutgoingRecord[]): Promise<void> {
    const produced = this.#run("produce", () => this.broker.append(records));
    // A network driver's produce waits for I/O; this one settles in a microtask, so a loop of
    // sends would never let timers or signal handlers (SIGTERM) run. Every 10 ms it yields once.
    const now = performance.now();
    if (now - this.#yieldedAt < YIELD_EVERY_MS) return produced;
    this.#yieldedAt = now;
    return produced.then((value) => new Promise((resolve) => setTimeout(() => resolve(value), 0)));
  }

  subscribe(
    group: string,
    topics: readonly string[],
    options: DriverSubscribeOptions,
    handler: RecordHandler,
  ): Promise<DriverSubscription> {
    return this.#run("subscribe", () => {
      const member: Member = {
        id: `${group}-${crypto.randomUUID()}`,
        topics: [...topics],
        options,
        handler,
        driver: this,
        owned: new Set(),
        paused: false,
        stopped: false,
        wake: new Set(),
        loops: new Set(),
      };
      const entry = { group, member };
      this.#members.add(entry);
      this.broker.join(group, member);
      const wake = () => {
        for (const resolve of member.wake) resolve();
        member.wake.clear();
      };
      return {
        assigned: () => [...member.owned].sort(),
        pause: () => {
          member.paused = true;
        },
        resume: () => {
          member.paused = false;
          wake();
        },
        close: async () => {
          this.#members.delete(entry);
          this.broker.leave(group, member);
          // In-flight handlers finish and commit before close resolves (a dead process has none).
          if (!this.#crashed) await Promise.all(member.loops);
        },
      };
    });
  }

  /**
   * Simulates a killed process: every member of this driver stops at once and commits nothing
   * more; the broker rebalances its partitions to the remaining members, which receive the
   * uncommitted records again.
   */
  crash(): void {
    this.#crashed = true;
    this.#died();
    for (const { group, member } of this.#members) this.broker.leave(group, member);
    this.#members.clear();
  }

  close(): Promise<void> {
    this.#closed = true;
    for (const { group, member } of this.#members) this.broker.leave(group, member);
    this.#members.clear();
    return Promise.resolve();
  }
}

/**
 * Creates a memory mq driver, the standalone default.
 *
 * @param options Retention, or a broker to share.
 * @returns The driver.
 */
export function memoryMq(options: MemoryMqDriverOptions = {}): MqDriver {
  return new MemoryMqDriver(options.broker ?? new MemoryMqBroker(options));
}
