/**
 * uid: unique ids. {@linkcode uuidv7} for sortable UUIDs that need no setup,
 * and Snowflake generators ({@linkcode create}) for compact 63-bit ids that
 * never repeat, not at 4,096 ids per millisecond and not on a backward clock step.
 *
 * @example UUIDv7 and Snowflake
 * ```ts
 * import { uid } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.match(uid.uuidv7(), /^[0-9a-f-]{36}$/);
 *
 * await using ids = await uid.create({ ...uid.defaultConfig("development"), workerId: 3 });
 * const id = ids.nextId();
 * assert.equal(ids.parse(id).workerId, 3);
 * assert.equal(typeof ids.nextIdString(), "string");
 * ```
 *
 * @module
 */
import { requireEnv } from "../internal/env.ts";
import type { Clock } from "../internal/clock.ts";
import {
  SnowflakeGenerator,
  snowflakeLayout,
  type SnowflakeParts,
  type UidConfig,
} from "./snowflake.ts";

export { createUuidV7, uuidv7, uuidv7Time } from "./uuidv7.ts";
export type { UuidV7Options } from "./uuidv7.ts";
export { ClockMovedBackwardsError, parseSnowflake, snowflakeLayout } from "./snowflake.ts";
export type { SnowflakeLayout, SnowflakeParts, UidConfig } from "./snowflake.ts";
export type { Clock } from "../internal/clock.ts";

/** A worker id leased from coord (what `coord.instanceIds.allocate` returns). */
export interface LeasedWorkerId {
  /** The id. */
  readonly id: number;
  /** Fires when the lease is lost. */
  readonly lost: AbortSignal;
  /** Gives the id back. */
  release(): Promise<void>;
}

/** Where leased worker ids come from: a coord provider. */
export interface WorkerIdSource {
  /** The instance id allocator. */
  readonly instanceIds: {
    allocate(service: string, maxId: number): Promise<LeasedWorkerId>;
  };
}

/** Dependencies of a Snowflake generator. */
export interface CreateOptions {
  /** Time source; inject a fake one in tests. */
  readonly clock?: Clock;
  /**
   * A coord provider to lease the worker id from (under `config.service`), instead of taking
   * `config.workerId`. The generator stops issuing ids the moment the lease is lost.
   */
  readonly coord?: WorkerIdSource;
}

/** A Snowflake id generator, as returned by {@linkcode create}. */
export interface Snowflake extends AsyncDisposable {
  /** The worker id embedded in every id. */
  readonly workerId: number;
  /** The next id; strictly greater than every earlier id of this generator. */
  nextId(): bigint;
  /** The next id as a decimal string. */
  nextIdString(): string;
  /** Splits an id of this generator's layout into time, worker and sequence. */
  parse(id: bigint | string): SnowflakeParts;
  /** Stops the generator; later calls to `nextId` throw. */
  close(): Promise<void>;
}

/**
 * The recommended configuration: 41 bits of milliseconds since 2024-01-01,
 * 10 bits of worker id, 12 bits of sequence, and a 5 ms tolerance for backward
 * clock steps. Development uses worker 0; production sets no worker id, so
 * `create` refuses it until the application gives each replica its own
 * `workerId` or passes `{ coord }` to lease one (two replicas on one id would
 * issue the same ids).
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 *
 * @example Production needs a worker id
 * ```ts
 * import { create, defaultConfig } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * await assert.rejects(create(defaultConfig("production")), /'workerId' is not set/);
 * await using ids = await create({ ...defaultConfig("production"), workerId: 7 });
 * assert.equal(ids.workerId, 7);
 * ```
 */
export function defaultConfig(env: "development" | "production"): UidConfig {
  const layout = {
    epochMs: 1704067200000,
    workerIdBits: 10,
    sequenceBits: 12,
    maxBackwardMs: 5,
  };
  return requireEnv("uid", env) === "development" ? { workerId: 0, ...layout } : layout;
}

/**
 * Creates a Snowflake generator.
 *
 * @param config Worker id, epoch, bit widths, backward-step bound.
 * @param options Injected clock; a coord provider to lease the worker id from.
 * @returns The generator.
 * @throws {RangeError} On invalid config, or when every worker id is leased (the promise rejects).
 * @throws {TypeError} With `coord` but no `config.service`; without `coord` and without
 * `config.workerId`; on an unknown config key.
 */
export async function create(config: UidConfig, options: CreateOptions = {}): Promise<Snowflake> {
  if (
    !options.coord && config !== null && typeof config === "object" && config.workerId === undefined
  ) {
    throw new TypeError(
      "Cannot create Snowflake generator as 'workerId' is not set: pass workerId (an integer unique to each replica) or { coord } to lease one (with 'service')",
    );
  }
  let lease: LeasedWorkerId | undefined;
  if (options.coord) {
    const service = config?.service;
    if (typeof service !== "string" || service.length === 0) {
      throw new TypeError(
        `Cannot create Snowflake generator with a leased worker id as 'service' must be a non-empty string: current value is ${
          JSON.stringify(service)
        }`,
      );
    }
    const { workerIdBits } = snowflakeLayout(
      { ...config, workerId: 0 },
      (options.clock ?? Date).now(),
    );
    lease = await options.coord.instanceIds.allocate(service, 2 ** workerIdBits);
  }
  let generator: SnowflakeGenerator;
  try {
    generator = new SnowflakeGenerator(
      lease ? { ...config, workerId: lease.id } : config,
      options.clock,
    );
  } catch (error) {
    await lease?.release();
    throw error;
  }
  if (lease) {
    const { id, lost } = lease;
    const stop = () =>
      generator.stop(
        new Error(`Cannot generate a Snowflake id as the lease on worker id ${id} was lost`, {
          cause: lost.reason,
        }),
      );
    if (lost.aborted) stop();
    else lost.addEventListener("abort", stop, { once: true });
  }
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      generator.stop(new Error("Cannot generate a Snowflake id as the generator is closed"));
      await lease?.release();
    })();
  return {
    workerId: generator.workerId,
    nextId: () => generator.nextId(),
    nextIdString: () => generator.nextIdString(),
    parse: (id: bigint | string) => generator.parse(id),
    close,
    [Symbol.asyncDispose]: close,
  };
}
