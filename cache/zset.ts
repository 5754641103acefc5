/**
 * The sorted-set operation group: string members ordered by a numeric score.
 *
 * @module
 */
import { requireText } from "./_util.ts";
import { type OpsContext, requireInteger, requireMembers, requireScore } from "./_ops.ts";
import type { ZMember } from "./types.ts";

/** Sorted-set operations (members are strings). */
export interface ZSetOps {
  /** Adds members; resolves to how many were new. */
  add(key: string, ...members: ZMember[]): Promise<number>;
  /** By rank, inclusive; negative ranks count from the end. */
  range(key: string, start: number, stop: number): Promise<ZMember[]>;
  /** By rank from the highest score. */
  revRange(key: string, start: number, stop: number): Promise<ZMember[]>;
  /** Members with min ≤ score ≤ max, lowest first; `limit` caps the count. */
  rangeByScore(
    key: string,
    min: number,
    max: number,
    options?: { limit?: number },
  ): Promise<ZMember[]>;
  /** Removes members; resolves to how many were there. */
  rem(key: string, ...members: string[]): Promise<number>;
  /** Removes members by rank, inclusive; resolves to how many. */
  remRangeByRank(key: string, start: number, stop: number): Promise<number>;
  /** Number of members. */
  card(key: string): Promise<number>;
  /** Number of members with min ≤ score ≤ max. */
  count(key: string, min: number, max: number): Promise<number>;
  /** Score of a member, or undefined. */
  score(key: string, member: string): Promise<number | undefined>;
  /** Adds `delta` to an integer value (0 when absent). */
  incrBy(key: string, member: string, delta: number): Promise<number>;
}

/** Creates the sorted-set operations over a provider context. */
export function zsetOps(context: OpsContext): ZSetOps {
  const { driver, keyspace: { key } } = context;
  return {
    add: async (name, ...entries) => {
      if (entries.length === 0) throw new TypeError("Cannot zadd as at least one member is needed");
      for (const entry of entries) {
        requireMembers("zadd", [entry?.member]);
        requireScore("zadd", entry.score);
      }
      return await driver.zadd(key("zadd", name), entries);
    },
    range: async (name, start, stop) =>
      await driver.zrange(
        key("zrange", name),
        requireInteger("zrange", "start", start),
        requireInteger("zrange", "stop", stop),
        false,
      ),
    revRange: async (name, start, stop) =>
      await driver.zrange(
        key("zrevrange", name),
        requireInteger("zrevrange", "start", start),
        requireInteger("zrevrange", "stop", stop),
        true,
      ),
    rangeByScore: async (name, min, max, options) =>
      await driver.zrangeByScore(
        key("zrangeByScore", name),
        requireScore("zrangeByScore", min),
        requireScore("zrangeByScore", max),
        options?.limit,
      ),
    rem: async (name, ...values) =>
      await driver.zrem(key("zrem", name), requireMembers("zrem", values)),
    remRangeByRank: async (name, start, stop) =>
      await driver.zremRangeByRank(
        key("zremRangeByRank", name),
        requireInteger("zremRangeByRank", "start", start),
        requireInteger("zremRangeByRank", "stop", stop),
      ),
    card: async (name) => await driver.zcard(key("zcard", name)),
    count: async (name, min, max) =>
      await driver.zcount(
        key("zcount", name),
        requireScore("zcount", min),
        requireScore("zcount", max),
      ),
    score: async (name, member) =>
      await driver.zscore(key("zscore", name), requireText("zscore", "member", member)),
    incrBy: async (name, member, delta) =>
      await driver.zincrBy(
        key("zincrBy", name),
        requireText("zincrBy", "member", member),
        requireScore("zincrBy", delta),
      ),
  };
}
