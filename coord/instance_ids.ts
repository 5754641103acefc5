/**
 * Instance ids: small integers (Snowflake worker ids) leased to one process at
 * a time under `/instances/{service}/{id}`. The id is the process's only while
 * its lease lives; `lost` fires the moment it cannot be sure of that any more.
 *
 * @module
 */
import { LostError } from "../internal/errors.ts";
import { acquireUnderSignal } from "../internal/acquire.ts";
import {
  type CallOptions,
  type CoordContext,
  ownerToken,
  relabel,
  release as releaseCall,
  requireKey,
  requireTtl,
} from "./_util.ts";

/** The reason an instance id's `lost` signal fires. */
export class InstanceIdLostError extends LostError {
  /** Stable code. */
  readonly code = "COORD_INSTANCE_ID_LOST";
  /** The service. */
  readonly service: string;
  /** The id that was lost. */
  readonly id: number;

  /**
   * Creates the error.
   *
   * @param service The service.
   * @param id The id.
   * @param cause Why the lease was lost.
   */
  constructor(service: string, id: number, cause?: unknown) {
    super(`Instance id ${id} of service '${service}' was lost: its lease is gone`, { cause });
    this.name = "InstanceIdLostError";
    this.service = service;
    this.id = id;
  }
}

/** A leased instance id. */
export interface InstanceId extends AsyncDisposable {
  /** The id, from 0 to maxId − 1. */
  readonly id: number;
  /** Fires with an {@linkcode InstanceIdLostError} when the lease is lost; never after `release()`. */
  readonly lost: AbortSignal;
  /**
   * Gives the id back, deleting its key only if this process still owns it. Safe to call twice. The
   * release starts even when the signal has already aborted; the signal ends only the wait.
   */
  release(options?: CallOptions): Promise<void>;
}

/** Options of `instanceIds.allocate`. */
export interface AllocateOptions {
  /** Lease TTL of the id; the provider's `leaseTtlMs` by default. */
  readonly ttlMs?: number;
  /**
   * Gives up when aborted: the call rejects with the signal's reason at once, and an id leased
   * afterwards is released.
   */
  readonly signal?: AbortSignal;
}

/** The `instanceIds` group of a coord provider. */
export interface InstanceIds {
  /**
   * Leases a free id from 0 to `maxId − 1`.
   *
   * @throws {RangeError} When every id is taken, `maxId` is not a positive integer, or the TTL is
   * below what the driver grants or above what a timer can wait (2³¹−1 ms).
   */
  allocate(service: string, maxId: number, options?: AllocateOptions): Promise<InstanceId>;
}

const PREFIX = "/instances/";

/** Creates the instance id allocator over a provider context. */
export function instanceIds(context: CoordContext): InstanceIds {
  const { driver, logger } = context;
  const allocate = async (service: string, maxId: number, ttlMs: number): Promise<InstanceId> => {
    const session = await context.openSession(ttlMs);
    const owner = ownerToken();
    try {
      // Start at a random id so that processes starting together rarely collide.
      const start = Math.floor(Math.random() * maxId);
      for (let offset = 0; offset < maxId; offset++) {
        const id = (start + offset) % maxId;
        const key = `${PREFIX}${service}/${id}`;
        const result = await driver.txn(
          [{ key, target: "createRevision", op: "==", value: 0 }],
          [{ type: "put", key, value: owner, lease: session.leaseId }],
          [],
        );
        if (!result.succeeded) continue;
        const releaseNow = async () => {
          if (!session.done) {
            // Only our own key: if the lease was lost and the id re-leased, the new owner keeps it.
            await driver.txn([{ key, target: "value", op: "==", value: owner }], [{
              type: "delete",
              key,
            }], [])
              .catch((error) =>
                logger.warn("could not delete instance id key; it expires with its lease", {
                  key,
                  err: error,
                })
              );
          }
          await session.close();
        };
        let released: Promise<void> | undefined;
        const release = (options?: CallOptions) =>
          releaseCall(
            `release instance id ${id} of '${service}'`,
            options,
            () => released ??= releaseNow(),
          );
        logger.info("instance id allocated", { service, id });
        return {
          id,
          lost: relabel(session.lost, (reason) => new InstanceIdLostError(service, id, reason)),
          release,
          [Symbol.asyncDispose]: () => release(),
        };
      }
    } catch (error) {
      await session.close();
      throw error;
    }
    await session.close();
    throw new RangeError(
      `Cannot allocate instance id of service '${service}' as all ${maxId} ids are taken`,
    );
  };

  return {
    allocate(service: string, maxId: number, options: AllocateOptions = {}): Promise<InstanceId> {
      let ttlMs: number;
      try {
        requireKey("allocate instance id", "service", service, { slash: false });
        if (!Number.isSafeInteger(maxId) || maxId < 1) {
          throw new RangeError(
            `Cannot allocate instance id as 'maxId' must be a positive integer: current value is ${maxId}`,
          );
        }
        ttlMs = requireTtl(
          `allocate instance id of '${service}'`,
          options.ttlMs ?? context.leaseTtlMs,
          driver,
        );
      } catch (error) {
        return Promise.reject(error);
      }
      return acquireUnderSignal(
        `allocate instance id of '${service}'`,
        options.signal,
        () => allocate(service, maxId, ttlMs),
        (instanceId) => instanceId.release(),
        (error) =>
          logger.warn("could not release an abandoned instance id; it expires with its lease", {
            service,
            err: error,
          }),
      );
    },
  };
}
