/**
 * One member of a consumer group on Redis Streams: it heart-beats its membership, takes the
 * partitions the sorted member list gives it through owner keys with a TTL, takes over the
 * entries other members left pending (XAUTOCLAIM), reads new ones on its own blocking
 * connection, and acknowledges each entry only after the handler succeeded.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { Redis } from "ioredis";
import type { IncomingRecord, RecordHandler } from "../../mq/driver.ts";
import { sleep } from "../../internal/signal.ts";
import { type Connection, failHeldCommands } from "./connection.ts";
import { groupBySlot } from "./cluster_keys.ts";
import { lockRelease, lockRenew } from "./lock_scripts.ts";

/** How long the mq driver's XREADGROUP blocks waiting for entries. */
const READ_BLOCK_MS = 200;
/**
 * Entries one XREADGROUP takes per stream: a partition works through them in order before it is
 * read again, so larger batches mean fewer reads; those not yet handled when the partition moves
 * stay pending and the next owner claims them.
 */
const READ_COUNT = 500;
/**
 * In a cluster, how long a member whose partitions' streams are in several hash slots waits
 * between reads that found nothing (it polls them without blocking).
 */
const CLUSTER_POLL_MS = 20;

/** One partition of a subscribed topic: a stream. */
export interface StreamPartition {
  /** `topic:index`, the partition's name in owner keys and `assigned()`. */
  readonly name: string;
  /** The topic. */
  readonly topic: string;
  /** The partition's index in its topic. */
  readonly index: number;
  /** The stream's key. */
  readonly stream: string;
}

interface StreamEntry {
  id: string;
  fields: string[];
}

function entryRecord(topic: string, partition: number, entry: StreamEntry): IncomingRecord {
  const fields: Record<string, string> = {};
  for (let i = 0; i < entry.fields.length; i += 2) fields[entry.fields[i]] = entry.fields[i + 1];
  return {
    topic,
    partition,
    offset: entry.id,
    key: fields.k === undefined || fields.k === "" ? undefined : fields.k.slice(1),
    value: fields.b === undefined
      ? fields.v ?? ""
      : new Uint8Array(Buffer.from(fields.b, "base64")),
    headers: fields.h && fields.h !== "{}" ? JSON.parse(fields.h) : {},
    timestamp: Number(entry.id.split("-")[0]),
  };
}

/**
 * Opens the connection a consumer's XREADGROUP BLOCK holds; its reply may take the block time
 * on top of the timeout.
 */
export async function openReader(connection: Connection): Promise<Redis> {
  const { socketTimeout, commandTimeout } = connection.nodeOptions;
  const reader = connection.duplicate({
    // Its calls run one at a time anyway; and in a cluster an auto-pipelined read that got MOVED
    // after a failover kept its stale slot map, so the moved partitions were never read again.
    enableAutoPipelining: false,
    ...(socketTimeout ? { socketTimeout: socketTimeout + READ_BLOCK_MS } : {}),
    ...(commandTimeout ? { commandTimeout: commandTimeout + READ_BLOCK_MS } : {}),
  });
  reader.on("error", () => {}); // reported by the main connection's listener
  reader.on("reconnecting", failHeldCommands(reader)); // or close() waits for Redis to return
  await reader.connect().catch((error) => {
    reader.disconnect();
    throw connection.driverError("subscribe", error);
  });
  return reader;
}

/** What a {@linkcode StreamsConsumer} works with. */
export interface StreamsConsumerContext {
  /** The driver's connection: heartbeats, claims and acknowledgements. */
  readonly connection: Connection;
  /** The connection of its own that blocking reads hold, from {@linkcode openReader}; closed on stop. */
  readonly reader: Redis;
  /** The consumer group. */
  readonly group: string;
  /** Every partition of the subscribed topics, the group created on each. */
  readonly partitions: readonly StreamPartition[];
  /** Gets each record; a failure is retried after 50 ms until it succeeds. */
  readonly handler: RecordHandler;
  /**
   * The sorted set of the group's members subscribed to `topic`, scored by when each lapses: a
   * topic's partitions are shared among the members that read it, not among the whole group.
   */
  readonly membersKey: (topic: string) => string;
  /** The owner key of a partition (by name). */
  readonly ownerKey: (partition: string) => string;
  /** How long a member that stopped heart-beating keeps its partitions. */
  readonly sessionTimeoutMs: number;
  /** How often the member renews its membership and partition ownership. */
  readonly heartbeatMs: number;
}

/** A running member of a consumer group; it starts heart-beating and reading when created. */
export class StreamsConsumer {
  readonly #context: StreamsConsumerContext;
  readonly #client: Redis;
  readonly #memberId = crypto.randomUUID();
  /** Partitions whose owner key we hold. */
  readonly #owned = new Set<string>();
  /** The subscribed topics, each with its own member list. */
  readonly #topics: readonly string[];
  /**
   * When each owned partition last took over entries left pending by other members (a crashed
   * owner, or a member whose blocking read returned after it lost the partition).
   */
  readonly #claimedAt = new Map<string, number>();
  /** Partition → record in flight. */
  readonly #busy = new Map<string, Promise<void>>();
  #paused = false;
  #stopped = false;
  #crashed = false;
  #beating = true;
  readonly #beatLoop: Promise<void>;
  readonly #reading: Promise<void>;

  constructor(context: StreamsConsumerContext) {
    this.#context = context;
    this.#client = context.connection.client;
    this.#topics = [...new Set(context.partitions.map((p) => p.topic))];
    this.#beatLoop = this.#beatUntilStopped();
    this.#reading = this.#readLoop();
  }

  /** The names of the partitions this member owns, sorted. */
  assigned(): string[] {
    return [...this.#owned].sort();
  }

  /** Stops taking new entries until {@linkcode resume}. */
  pause(): void {
    this.#paused = true;
  }

  /** Takes entries again after {@linkcode pause}. */
  resume(): void {
    this.#paused = false;
  }

  /**
   * Stops. Cleanly: lets the records in flight finish, releases the partitions and leaves the
   * group. As a crash (`crash`): at once, acknowledging and releasing nothing more.
   */
  async stop(crash: boolean): Promise<void> {
    if (this.#stopped) return;
    this.#crashed = crash;
    this.#stopped = true;
    this.#beating = false;
    if (!crash) {
      const { connection, ownerKey, membersKey } = this.#context;
      await Promise.all(this.#busy.values());
      await this.#reading;
      await this.#beatLoop;
      for (const name of this.#owned) {
        await connection.runScript(lockRelease, [ownerKey(name)], [this.#memberId]).catch(
          () => {},
        );
      }
      for (const topic of this.#topics) {
        await this.#client.zrem(membersKey(topic), this.#memberId).catch(() => {});
      }
    }
    this.#context.reader.disconnect();
  }

  async #beatUntilStopped(): Promise<void> {
    while (this.#beating) {
      try {
        await this.#heartbeat();
      } catch {
        // Redis unreachable: ownership lapses by TTL; the next beat tries again.
      }
      await sleep(this.#context.heartbeatMs);
    }
  }

  /** Renews the membership, then takes, keeps or hands over each partition. */
  async #heartbeat(): Promise<void> {
    const { connection, partitions, membersKey, ownerKey, sessionTimeoutMs } = this.#context;
    const client = this.#client;
    const memberId = this.#memberId;
    const owned = this.#owned;
    const now = Date.now();
    const mine = new Set<string>();
    for (const topic of this.#topics) {
      const key = membersKey(topic);
      await client.zadd(key, now + sessionTimeoutMs, memberId);
      await client.zremrangebyscore(key, "-inf", now);
      const members = (await client.zrange(key, "0", "-1")).sort();
      partitions.filter((p) => p.topic === topic).forEach((p, i) => {
        if (members[i % members.length] === memberId) mine.add(p.name);
      });
    }
    for (const partition of partitions) {
      const key = ownerKey(partition.name);
      if (mine.has(partition.name)) {
        if (owned.has(partition.name)) {
          const kept = Number(
            await connection.runScript(lockRenew, [key], [memberId, sessionTimeoutMs]),
          );
          if (kept === 0) owned.delete(partition.name);
        } else if ((await client.set(key, memberId, "PX", sessionTimeoutMs, "NX")) === "OK") {
          owned.add(partition.name);
        }
      } else if (owned.has(partition.name)) {
        // Hand over: stop taking records, let the one in flight finish, then release.
        owned.delete(partition.name);
        await this.#busy.get(partition.name);
        await connection.runScript(lockRelease, [key], [memberId]);
      }
    }
  }

  async #readLoop(): Promise<void> {
    const busy = this.#busy;
    while (!this.#stopped) {
      const active = this.#context.partitions.filter((p) =>
        this.#owned.has(p.name) && !busy.has(p.name)
      );
      if (!this.#paused && active.length === 0 && busy.size > 0) {
        // Every owned partition is working through a batch: read again as soon as one is done.
        await Promise.race([...busy.values(), sleep(50)]);
        continue;
      }
      if (this.#paused || active.length === 0) {
        await sleep(50);
        continue;
      }
      try {
        await this.#claimOrphans(active);
        const ready = active.filter((p) => !busy.has(p.name));
        if (ready.length === 0) continue;
        // While other partitions work through a batch, a read must not block on quiet ones: they
        // would wait out READ_BLOCK_MS before being read again (a busy partition then moved 100
        // entries per 200 ms). Read without blocking, and wait for a batch to end instead.
        const read = await this.#readNew(ready, busy.size === 0);
        if (read === 0 && busy.size > 0) {
          await Promise.race([...busy.values(), sleep(READ_BLOCK_MS)]);
        }
      } catch (error) {
        if (this.#stopped) return;
        await sleep(200);
        void error;
      }
    }
  }

  /**
   * Entries read but never acknowledged by others come first. Nothing of ours is in flight on a
   * partition that is not busy, so every pending entry there is an orphan.
   */
  async #claimOrphans(active: readonly StreamPartition[]): Promise<void> {
    const { group, heartbeatMs } = this.#context;
    const now = Date.now();
    for (
      const partition of active.filter((p) =>
        now - (this.#claimedAt.get(p.name) ?? 0) >= heartbeatMs
      )
    ) {
      let cursor = "0-0";
      const pending: StreamEntry[] = [];
      do {
        const reply = await this.#client.xautoclaim(
          partition.stream,
          group,
          this.#memberId,
          0,
          cursor,
          "COUNT",
          100,
        ) as [
          string,
          [string, string[] | null][],
        ];
        cursor = reply[0];
        for (const [id, fields] of reply[1]) if (fields) pending.push({ id, fields });
      } while (cursor !== "0-0");
      this.#claimedAt.set(partition.name, now);
      if (pending.length > 0) this.#startBatch(partition, pending);
    }
  }

  /**
   * Reads new entries of the `ready` partitions, blocking up to READ_BLOCK_MS for some when
   * `block`; returns how many it started.
   */
  async #readNew(ready: readonly StreamPartition[], block: boolean): Promise<number> {
    if (!this.#context.connection.isCluster) return this.#readStreams(ready, block);
    // A cluster reads several streams in one call only within one hash slot: one call per slot,
    // blocking only when there is one (several blocking calls on one connection would queue).
    const groups = groupBySlot(ready.map((p) => p.stream)).map((g) => g.map((i) => ready[i]));
    if (groups.length === 1) return this.#readStreams(ready, block);
    const counts = await Promise.all(groups.map((g) => this.#readStreams(g, false)));
    const started = counts.reduce((sum, count) => sum + count, 0);
    if (started === 0 && block) await sleep(CLUSTER_POLL_MS);
    return started;
  }

  /** One XREADGROUP over `ready` (all in one slot, in a cluster). */
  async #readStreams(ready: readonly StreamPartition[], block: boolean): Promise<number> {
    const { reader, group } = this.#context;
    const streams = [...ready.map((p) => p.stream), ...ready.map(() => ">")];
    // Two literal calls: ioredis's typings take BLOCK only in this position, not spread.
    const reply = (block
      ? await reader.xreadgroup(
        "GROUP",
        group,
        this.#memberId,
        "COUNT",
        READ_COUNT,
        "BLOCK",
        READ_BLOCK_MS,
        "STREAMS",
        ...streams,
      )
      : await reader.xreadgroup(
        "GROUP",
        group,
        this.#memberId,
        "COUNT",
        READ_COUNT,
        "STREAMS",
        ...streams,
      )) as [string, [string, string[]][]][] | null;
    let started = 0;
    for (const [stream, entries] of reply ?? []) {
      const partition = ready.find((p) => p.stream === stream)!;
      const batch = entries.filter(([, fields]) => fields).map(([id, fields]) => ({
        id,
        fields,
      }));
      this.#startBatch(partition, batch);
      started += batch.length;
    }
    return started;
  }

  /** Runs a batch of a partition in the background, the partition busy until it is done. */
  #startBatch(partition: StreamPartition, entries: StreamEntry[]): void {
    const run = this.#processBatch(partition, entries).finally(() =>
      this.#busy.delete(partition.name)
    );
    this.#busy.set(partition.name, run);
  }

  /**
   * Handles entries in order. Each entry is acknowledged once its handler finished, by one XACK
   * in flight per batch at a time that carries every entry handled meanwhile; all are awaited
   * before it returns.
   */
  async #processBatch(partition: StreamPartition, entries: StreamEntry[]): Promise<void> {
    const acks = this.#acknowledger(partition.stream);
    try {
      for (const entry of entries) {
        const record = entryRecord(partition.topic, partition.index, entry);
        for (;;) {
          // Not acknowledged: the next owner gets it.
          if (this.#stopped || !this.#owned.has(partition.name)) return;
          try {
            await this.#context.handler(record);
          } catch {
            await sleep(50);
            continue;
          }
          if (this.#crashed) return;
          acks.add(entry.id);
          break;
        }
      }
    } finally {
      await acks.settled();
    }
  }

  /**
   * Acknowledges the entries of a stream given to `add`: the first at once, those added while
   * an XACK is in flight together in the next one (one command per message would cost more than
   * the handling of a quick handler).
   */
  #acknowledger(stream: string): { add(id: string): void; settled(): Promise<void> } {
    const { group } = this.#context;
    let waiting: string[] = [];
    let sending: Promise<void> | undefined;
    const send = async () => {
      while (waiting.length > 0 && !this.#crashed) {
        const ids = waiting;
        waiting = [];
        await this.#client.xack(stream, group, ...ids).catch(() => {});
      }
      sending = undefined;
    };
    return {
      add: (id) => {
        if (this.#crashed) return;
        waiting.push(id);
        sending ??= send();
      },
      settled: () => sending ?? Promise.resolve(),
    };
  }
}
