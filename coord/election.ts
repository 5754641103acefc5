/**
 * Leader election after etcd's concurrency.Election: candidates queue by
 * create revision under the election's prefix `/elections/{name}/` (with `%`
 * and `/` of the name escaped), each on its own lease; the
 * oldest is the leader. A campaign in progress aborts when its lease is lost,
 * so no zombie candidate can win later.
 *
 * @module
 */
import { LostError } from "../internal/errors.ts";
import { encodeJson } from "../internal/json.ts";
import { acquireUnderSignal } from "../internal/acquire.ts";
import { kitTracer } from "../internal/otel.ts";
import {
  call,
  type CallOptions,
  type CoordContext,
  decodeJson,
  keySegment,
  relabel,
  release,
  requireKey,
  requireTtl,
  waitForTurn,
} from "./_util.ts";
import type { Session } from "./session.ts";
import { tracedWait } from "./trace.ts";
import type { CoordDriver, KeyValue } from "./types.ts";
import { eventKeyValue, resumableWatch } from "./watch.ts";

/** The reason a leadership's `lost` signal fires. */
export class LeadershipLostError extends LostError {
  /** Stable code. */
  readonly code = "COORD_LEADERSHIP_LOST";
  /** The election. */
  readonly election: string;

  /**
   * Creates the error.
   *
   * @param election The election's name.
   * @param cause Why the lease was lost.
   */
  constructor(election: string, cause?: unknown) {
    super(`Leadership of election '${election}' was lost: its lease is gone`, { cause });
    this.name = "LeadershipLostError";
    this.election = election;
  }
}

/** The current leader as others see it. */
export interface LeaderInfo<T> {
  /** The value the leader proclaimed. */
  readonly value: T;
  /** Create revision of the leader's key: strictly greater for every later leader (a fencing token). */
  readonly token: number;
}

/** Won leadership. */
export interface Leadership<T> extends AsyncDisposable {
  /** The election's name. */
  readonly name: string;
  /** Fencing token of this term. */
  readonly token: number;
  /** Fires with a {@linkcode LeadershipLostError} when the lease is lost; never after `resign()`. */
  readonly lost: AbortSignal;
  /** Publishes a new value while staying leader. */
  proclaim(value: T, options?: CallOptions): Promise<void>;
  /**
   * Gives up leadership; the next candidate takes over. Safe to call twice. The resignation starts
   * even when the signal has already aborted; the signal ends only the wait.
   */
  resign(options?: CallOptions): Promise<void>;
}

/** Options of `campaign`. */
export interface CampaignOptions {
  /**
   * Gives up when aborted: the call rejects with the signal's reason at once, and a leadership
   * won afterwards is resigned.
   */
  readonly signal?: AbortSignal;
  /** Lease TTL of the candidacy; the provider's `leaseTtlMs` by default. */
  readonly ttlMs?: number;
}

/** One named election. */
export interface Election<T> {
  /**
   * Becomes a candidate and resolves once leader.
   *
   * @throws {RangeError} On a TTL below what the driver grants or above what a timer can wait
   * (2³¹−1 ms).
   * @throws The signal's reason when aborted; `LeaseLostError` when the lease is lost while campaigning.
   */
  campaign(value: T, options?: CampaignOptions): Promise<Leadership<T>>;
  /** The current leader, or undefined when there is none. */
  leader(options?: CallOptions): Promise<LeaderInfo<T> | undefined>;
  /** The leader now and after every change (undefined while there is none), until the signal aborts. */
  observe(options?: { signal?: AbortSignal }): AsyncIterable<LeaderInfo<T> | undefined>;
}

const PREFIX = "/elections/";

function oldest(kvs: Iterable<KeyValue>): KeyValue | undefined {
  let first: KeyValue | undefined;
  for (const kv of kvs) if (!first || kv.createRevision < first.createRevision) first = kv;
  return first;
}

function leaderInfo<T>(kv: KeyValue | undefined): LeaderInfo<T> | undefined {
  return kv ? { value: decodeJson<T>(kv), token: kv.createRevision } : undefined;
}

/** A won term: the candidate's key under the election's prefix, on its own lease. */
class HeldLeadership<T> implements Leadership<T> {
  readonly name: string;
  readonly token: number;
  readonly lost: AbortSignal;
  readonly #driver: CoordDriver;
  readonly #session: Session;
  readonly #myKey: string;

  constructor(driver: CoordDriver, name: string, myKey: string, token: number, session: Session) {
    this.#driver = driver;
    this.name = name;
    this.#myKey = myKey;
    this.token = token;
    this.#session = session;
    this.lost = relabel(session.lost, (reason) => new LeadershipLostError(name, reason));
    // Callers may take the methods off the object (`const { resign } = leadership`).
    this.proclaim = this.proclaim.bind(this);
    this.resign = this.resign.bind(this);
  }

  proclaim(next: T, options?: CallOptions): Promise<void> {
    const { name, token } = this;
    return call(`proclaim in election '${name}'`, options, async () => {
      if (this.lost.aborted) throw this.lost.reason;
      const proclaimed = await this.#driver.txn(
        [{ key: this.#myKey, target: "createRevision", op: "==", value: token }],
        [{
          type: "put",
          key: this.#myKey,
          value: encodeJson(next, `value of election '${name}'`),
          lease: this.#session.leaseId,
        }],
        [],
      );
      if (!proclaimed.succeeded) throw new LeadershipLostError(name);
    });
  }

  resign(options?: CallOptions): Promise<void> {
    return release(`resign from election '${this.name}'`, options, () => this.#session.close());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.resign();
  }
}

/** Queues a candidate under `prefix` on a new lease and waits until it is the oldest. */
async function campaign<T>(
  context: CoordContext,
  name: string,
  prefix: string,
  text: string,
  ttlMs: number,
  signal: AbortSignal | undefined,
): Promise<Leadership<T>> {
  const { driver, logger } = context;
  const session: Session = await context.openSession(ttlMs);
  const myKey = prefix + session.leaseId;
  try {
    const result = await driver.txn(
      [{ key: myKey, target: "createRevision", op: "==", value: 0 }],
      [{ type: "put", key: myKey, value: text, lease: session.leaseId }],
      [{ type: "get", key: myKey }],
    );
    const token = result.succeeded
      ? result.revision
      : result.gets[0]?.createRevision ?? result.revision;
    const signals = [session.lost, context.closed];
    if (signal) signals.push(signal);
    await waitForTurn(driver, prefix, myKey, token, AbortSignal.any(signals), logger);
    return new HeldLeadership<T>(driver, name, myKey, token, session);
  } catch (error) {
    await session.close();
    throw error;
  }
}

/** {@linkcode campaign} under the caller's signal: a term won after the caller left is resigned. */
function campaignUnderSignal<T>(
  context: CoordContext,
  name: string,
  prefix: string,
  text: string,
  ttlMs: number,
  signal: AbortSignal | undefined,
): Promise<Leadership<T>> {
  return acquireUnderSignal(
    `campaign in election '${name}'`,
    signal,
    () => campaign<T>(context, name, prefix, text, ttlMs, signal),
    (leadership) => leadership.resign(),
    (error) =>
      context.logger.warn("could not resign an abandoned leadership; it ends with its lease", {
        election: name,
        err: error,
      }),
  );
}

/** The leader under `prefix` now and after every change. */
async function* observeLeader<T>(
  context: CoordContext,
  prefix: string,
  options: { signal?: AbortSignal },
): AsyncIterable<LeaderInfo<T> | undefined> {
  const candidates = new Map<string, KeyValue>();
  let last: string | undefined = "none yet";
  for await (
    const update of resumableWatch(context.driver, { key: prefix, prefix: true }, context.logger, [
      context.closed,
      options.signal,
    ])
  ) {
    if (update.kind === "snapshot") {
      for (const kv of update.kvs) candidates.set(kv.key, kv);
    } else {
      for (const event of update.events) {
        if (event.type === "delete") candidates.delete(event.key);
        else {
          candidates.set(event.key, eventKeyValue(event));
        }
      }
    }
    const leader = oldest(candidates.values());
    const identity = leader ? `${leader.createRevision}:${leader.value}` : undefined;
    if (identity === last) continue;
    last = identity;
    yield leaderInfo<T>(leader);
  }
}

/** Creates the election of `name` over a provider context. */
export function election<T>(context: CoordContext, name: string): Election<T> {
  requireKey("create election", "name", name);
  const prefix = `${PREFIX}${keySegment(name)}/`;
  const { driver } = context;

  return {
    campaign(value: T, options: CampaignOptions = {}): Promise<Leadership<T>> {
      let text: string, ttlMs: number;
      try {
        text = encodeJson(value, `campaign value of election '${name}'`);
        ttlMs = requireTtl(
          `campaign in election '${name}'`,
          options.ttlMs ?? context.leaseTtlMs,
          driver,
        );
      } catch (error) {
        return Promise.reject(error);
      }
      const tracer = kitTracer();
      if (tracer === undefined) {
        return campaignUnderSignal<T>(context, name, prefix, text, ttlMs, options.signal);
      }
      return tracedWait(
        tracer,
        "election campaign",
        "election",
        {
          "election.name": name,
          "db.system": driver.name,
        },
        options.signal,
        () => campaignUnderSignal<T>(context, name, prefix, text, ttlMs, options.signal),
      );
    },

    leader(options?: CallOptions): Promise<LeaderInfo<T> | undefined> {
      return call(
        `read the leader of election '${name}'`,
        options,
        async () => leaderInfo<T>(oldest((await driver.list(prefix)).kvs)),
      );
    },

    observe(options: { signal?: AbortSignal } = {}): AsyncIterable<LeaderInfo<T> | undefined> {
      return observeLeader<T>(context, prefix, options);
    },
  };
}
