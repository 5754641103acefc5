/**
 * Transactional outbox: events are written into an outbox table in the same
 * database transaction as the business rows, and a relay publishes them to mq
 * at least once and marks them sent. An event of a rolled-back transaction is
 * never published, and one whose publication was interrupted is published again.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { Db, Migration, Transaction } from "../db/mod.ts";
import { identifier } from "../db/mod.ts";
import { decodeValue, encodeValue } from "../internal/json.ts";
import { sleep } from "../internal/signal.ts";
import type { Message, Producer } from "./producer.ts";
import { traceHeaders } from "./trace.ts";

/** Options of {@linkcode outbox}. */
export interface OutboxOptions {
  /**
   * Table holding the events.
   * @default {"kit_outbox"}
   */
  readonly table?: string;
  /**
   * Events published per relay round.
   * @default {100}
   */
  readonly batchSize?: number;
  /**
   * Pause between relay rounds that found nothing.
   * @default {200}
   */
  readonly pollIntervalMs?: number;
  /** Where relay failures are reported. */
  readonly logger?: Logger;
}

/** An outbox bound to a database and a producer. */
export interface Outbox {
  /** The migration creating the outbox table; pass it to `db.migrate` with yours. */
  readonly migration: Migration;
  /** Records an event inside `tx`: it is published only if `tx` commits. */
  add<T>(tx: Transaction, message: Message<T>): Promise<void>;
  /** Publishes one batch of pending events; resolves to how many were published. */
  relayOnce(): Promise<number>;
  /** Starts relaying in the background until `stop`. */
  start(): void;
  /** Stops the background relay after its current round. */
  stop(): Promise<void>;
}

interface OutboxRow {
  id: bigint;
  topic: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * Creates an outbox on `database` that publishes through `producer`.
 *
 * @param database The db provider holding the business tables.
 * @param producer The mq producer to publish with.
 * @param options Table name, batch size, poll interval.
 * @returns The outbox.
 * @throws {RangeError} On a non-positive batch size or negative interval.
 */
export function outbox(database: Db, producer: Producer, options: OutboxOptions = {}): Outbox {
  const { table = "kit_outbox", batchSize = 100, pollIntervalMs = 200, logger } = options;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot create outbox as 'batchSize' must be a positive integer: current value is ${batchSize}`,
    );
  }
  if (!Number.isSafeInteger(pollIntervalMs) || pollIntervalMs < 0) {
    throw new RangeError(
      `Cannot create outbox as 'pollIntervalMs' must be a non-negative integer: current value is ${pollIntervalMs}`,
    );
  }
  const name = identifier(table);
  const migration: Migration = {
    id: `kit_outbox_${table}`,
    sql: `create table if not exists ${name.quoted} (
      id bigserial primary key,
      topic text not null,
      key text,
      value text not null,
      headers jsonb not null default '{}',
      created_at timestamptz not null default now(),
      sent_at timestamptz
    );
    create index if not exists ${
      identifier(`${table}_pending`).quoted
    } on ${name.quoted} (id) where sent_at is null;`,
  };

  const relayOnce = (): Promise<number> =>
    database.transaction(async (tx) => {
      // Rows locked by another relay are skipped, so relays on several instances share the work.
      const rows = await tx.sql<OutboxRow>`select id, topic, key, value, headers from ${name}
        where sent_at is null order by id limit ${batchSize} for update skip locked`;
      if (rows.length === 0) return 0;
      for (const row of rows) {
        await producer.sendSync({
          topic: row.topic,
          ...(row.key === null ? {} : { key: row.key }),
          value: decodeValue(row.value),
          headers: row.headers,
        });
      }
      await tx.sql`update ${name} set sent_at = now() where id = any(${
        rows.map((row) => row.id.toString())
      }::int8[])`;
      return rows.length;
    });

  let running: Promise<void> | undefined;
  let stopping = false;

  return {
    migration,
    async add<T>(tx: Transaction, message: Message<T>): Promise<void> {
      if (typeof message?.topic !== "string" || message.topic.length === 0) {
        throw new TypeError(
          `Cannot add to outbox as 'topic' must be a non-empty string: current value is ${
            JSON.stringify(message?.topic)
          }`,
        );
      }
      if (message.value instanceof Uint8Array) {
        throw new TypeError(
          `Cannot add to outbox as the value for topic '${message.topic}' is bytes: the outbox keeps JSON values in a text column (send bytes with the producer)`,
        );
      }
      // The kit's JSON, whatever the producer's serializer: a bigint keeps all its digits.
      const value = encodeValue(
        message.value,
        `the value of an outbox event for topic '${message.topic}'`,
      );
      // The trace of the request that wrote the event travels with it, through the relay, to consumers.
      const headers = { ...traceHeaders(), ...message.headers };
      await tx.sql`insert into ${name} (topic, key, value, headers) values (${message.topic}, ${
        message.key ?? null
      }, ${value}, ${headers})`;
    },
    relayOnce,
    start(): void {
      if (running) return;
      stopping = false;
      running = (async () => {
        while (!stopping) {
          let published = 0;
          try {
            published = await relayOnce();
          } catch (error) {
            logger?.warn("outbox relay round failed; retrying", { table, err: error });
          }
          if (published < batchSize) await sleep(pollIntervalMs);
        }
      })();
    },
    async stop(): Promise<void> {
      stopping = true;
      await running;
      running = undefined;
    },
  };
}
