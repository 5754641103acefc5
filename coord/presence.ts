/**
 * Presence: which instance (a WebSocket gateway) holds which user, so that a service routing
 * messages (logic) finds the gateways of a conversation's members. A gateway joins on a lease
 * and adds a user when a connection of theirs opens; every entry it wrote lives on its lease, so
 * a gateway that dies leaves no stale presence once the lease runs out. After a lost lease (a
 * partition longer than the TTL) the member joins again on a new lease and writes its users
 * back.
 *
 * Keys: `/presence/{user}/{instance}`, so finding a user's instances is one prefix read.
 *
 * @module
 */
import { acquireUnderSignal } from "../internal/acquire.ts";
import {
  call,
  type CallOptions,
  type CoordContext,
  keepOnLease,
  release,
  requireKey,
} from "./_util.ts";
import type { Session } from "./session.ts";

const PREFIX = "/presence/";

/** Options of `presence.join`. */
export interface JoinOptions {
  /** Lease TTL: how long the entries outlive an instance that stopped. */
  readonly ttlMs?: number;
  /** Gives up joining when aborted. */
  readonly signal?: AbortSignal;
}

/** One instance's part in presence: the users it holds, on its lease. */
export interface PresenceMember extends AsyncDisposable {
  /** The instance id it joined as. */
  readonly instanceId: string;
  /** `joined`, `rejoining` (after a lost lease) or `left`. */
  readonly status: "joined" | "rejoining" | "left";
  /** The users it holds now. */
  readonly users: ReadonlySet<string>;
  /**
   * Counts one more connection of `user` on this instance; the first makes the user present
   * here.
   */
  add(user: string, options?: CallOptions): Promise<void>;
  /** Counts one connection of `user` fewer; at none, the user is no longer present here. */
  remove(user: string, options?: CallOptions): Promise<void>;
  /** Removes every entry of this instance at once (its lease is revoked). */
  leave(options?: CallOptions): Promise<void>;
}

/** Presence of users on instances. */
export interface Presence {
  /**
   * Joins as `instanceId` on a new lease.
   *
   * @throws {TypeError} On an empty id or one with a slash.
   */
  join(instanceId: string, options?: JoinOptions): Promise<PresenceMember>;
  /** The instances holding `user`, sorted; empty when the user is offline. */
  locate(user: string, options?: CallOptions): Promise<string[]>;
  /** The instances holding each of `users` (an empty list for an offline one). */
  locateMany(
    users: readonly string[],
    options?: CallOptions,
  ): Promise<Map<string, string[]>>;
  /** Makes every member of this provider leave. */
  close(): Promise<void>;
}

const keyOf = (user: string, instanceId: string) => `${PREFIX}${user}/${instanceId}`;

/**
 * The presence service of a coord provider.
 *
 * @param context The provider's driver, logger, sessions and default TTL.
 * @returns The service.
 */
export function presence(context: CoordContext): Presence {
  const members = new Set<Member>();
  const locate = async (user: string, options?: CallOptions): Promise<string[]> => {
    requireKey("locate user", "user", user, { slash: false });
    const prefix = `${PREFIX}${user}/`;
    const { kvs } = await call(
      `locate user '${user}'`,
      options,
      () => context.driver.list(prefix),
    );
    return kvs.map((kv) => kv.key.slice(prefix.length)).sort();
  };
  return {
    async join(instanceId, options = {}) {
      requireKey("join presence", "instanceId", instanceId, { slash: false });
      const ttlMs = options.ttlMs ?? context.leaseTtlMs;
      const action = `join presence as '${instanceId}'`;
      // A lease granted after the caller gave up is revoked, not left running.
      const session = await acquireUnderSignal(
        action,
        options.signal,
        () => context.openSession(ttlMs),
        (late) => late.close(),
        (error) => context.logger.warn(`could not ${action} cleanly`, { err: error }),
      );
      const member = new Member(context, instanceId, ttlMs, session, () => members.delete(member));
      members.add(member);
      return member;
    },
    locate,
    async locateMany(users, options) {
      const found = await Promise.all(users.map((user) => locate(user, options)));
      return new Map(users.map((user, i) => [user, found[i]]));
    },
    async close() {
      await Promise.all([...members].map((member) => member.leave()));
    },
  };
}

class Member implements PresenceMember {
  readonly instanceId: string;
  readonly #context: CoordContext;
  readonly #ttlMs: number;
  readonly #counts = new Map<string, number>();
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  readonly #forget: () => void;
  #session: Session;
  #status: PresenceMember["status"] = "joined";
  #left: Promise<void> | undefined;

  constructor(
    context: CoordContext,
    instanceId: string,
    ttlMs: number,
    session: Session,
    forget: () => void,
  ) {
    this.#context = context;
    this.instanceId = instanceId;
    this.#ttlMs = ttlMs;
    this.#session = session;
    this.#forget = forget;
    this.add = this.add.bind(this);
    this.remove = this.remove.bind(this);
    this.leave = this.leave.bind(this);
    this.#loop = this.#keepJoined();
  }

  get status(): PresenceMember["status"] {
    return this.#status;
  }

  get users(): ReadonlySet<string> {
    return new Set(this.#counts.keys());
  }

  async add(user: string, options?: CallOptions): Promise<void> {
    requireKey("add user to presence", "user", user, { slash: false });
    this.#requireJoined("add");
    const count = this.#counts.get(user) ?? 0;
    this.#counts.set(user, count + 1);
    if (count > 0) return;
    try {
      await call(`add user '${user}' to presence`, options, () => this.#put(user));
    } catch (error) {
      // Not written: the next rejoin would write it, but the caller was told it failed.
      this.#decrement(user);
      throw error;
    }
  }

  async remove(user: string, options?: CallOptions): Promise<void> {
    requireKey("remove user from presence", "user", user, { slash: false });
    if (!this.#decrement(user)) return;
    await call(
      `remove user '${user}' from presence`,
      options,
      () => this.#context.driver.delete(keyOf(user, this.instanceId)),
    );
  }

  leave(options?: CallOptions): Promise<void> {
    return release(
      `leave presence as '${this.instanceId}'`,
      options,
      () =>
        this.#left ??= (async () => {
          this.#stop.abort();
          this.#status = "left";
          this.#forget();
          await this.#loop;
          this.#counts.clear();
          await this.#session.close(); // the lease's entries go with it
        })(),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.leave();
  }

  #requireJoined(action: string): void {
    if (this.#status === "left") {
      throw new Error(`Cannot ${action} a user as presence member '${this.instanceId}' has left`);
    }
  }

  /** Counts one connection fewer; true when the user is no longer held here. */
  #decrement(user: string): boolean {
    const count = this.#counts.get(user) ?? 0;
    if (count <= 1) {
      this.#counts.delete(user);
      return count === 1;
    }
    this.#counts.set(user, count - 1);
    return false;
  }

  #put(user: string, session = this.#session): Promise<number> {
    const value = JSON.stringify({ instance: this.instanceId, since: Date.now() });
    return this.#context.driver.put(keyOf(user, this.instanceId), value, session.leaseId);
  }

  // After a lost lease, join again on a new one and write the users back.
  #keepJoined(): Promise<void> {
    const { logger } = this.#context;
    const stop = this.#stop.signal;
    return keepOnLease({
      stop,
      lost: () => this.#session.lost,
      onLost: () => {
        this.#status = "rejoining";
        logger.warn("presence lost its lease; joining again", {
          instance: this.instanceId,
          users: this.#counts.size,
        });
      },
      restore: async () => {
        const next = await this.#context.openSession(this.#ttlMs);
        if (stop.aborted) return void await next.close();
        // On the new lease at once: users added meanwhile are written on it too.
        this.#session = next;
        try {
          await this.#writeBack(next);
        } catch (error) {
          // A lease holding only some users is no member's: closed, and the next try opens another.
          await next.close().catch(() => {});
          throw error;
        }
        this.#status = "joined";
        logger.info("presence restored", { instance: this.instanceId, users: this.#counts.size });
      },
      onRetry: (error) =>
        logger.debug("presence rejoin failed; retrying", { instance: this.instanceId, err: error }),
    });
  }

  /** Writes every user held now on `session`'s lease. */
  async #writeBack(session: Session): Promise<void> {
    // Users added while rejoining are written by this loop too; removed ones are skipped.
    for (const user of [...this.#counts.keys()]) {
      if (!this.#counts.has(user)) continue;
      await this.#put(user, session);
      // Removed while its entry was being written back: take the entry away again.
      if (!this.#counts.has(user)) {
        await this.#context.driver.delete(keyOf(user, this.instanceId));
      }
    }
  }
}
