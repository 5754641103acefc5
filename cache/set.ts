/**
 * The set operation group: unordered sets of string members.
 *
 * @module
 */
import { requireText } from "./_util.ts";
import { type OpsContext, requireMembers } from "./_ops.ts";

/** Set operations (members are strings). */
export interface SetOps {
  /** Adds members; resolves to how many were new. */
  add(key: string, ...members: string[]): Promise<number>;
  /** Removes members; resolves to how many were there. */
  remove(key: string, ...members: string[]): Promise<number>;
  /** Every member. */
  members(key: string): Promise<string[]>;
  /** Whether the member is in the set. */
  isMember(key: string, member: string): Promise<boolean>;
  /** Number of members. */
  card(key: string): Promise<number>;
}

/** Creates the set operations over a provider context. */
export function setOps(context: OpsContext): SetOps {
  const { driver, keyspace: { key } } = context;
  return {
    add: async (name, ...values) =>
      await driver.sadd(key("sadd", name), requireMembers("sadd", values)),
    remove: async (name, ...values) =>
      await driver.srem(key("srem", name), requireMembers("srem", values)),
    members: async (name) => await driver.smembers(key("smembers", name)),
    isMember: async (name, member) =>
      await driver.sismember(key("sismember", name), requireText("sismember", "member", member)),
    card: async (name) => await driver.scard(key("scard", name)),
  };
}
