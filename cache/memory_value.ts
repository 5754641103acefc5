/**
 * What the memory cache driver stores under a key, its approximate size, and
 * the Redis semantics of operating on it (integer increments, sorted-set order
 * and rank ranges).
 *
 * @module
 */
import { shownKey, unsafeIncrementError } from "./_util.ts";
import type { ZMember } from "./types.ts";

/** A stored value: one of Redis's four types the kit uses. */
export type Value =
  | { type: "string"; data: string }
  | { type: "hash"; data: Map<string, string> }
  | { type: "set"; data: Set<string> }
  | { type: "zset"; data: Map<string, number> };

/** Approximate bytes of a value's data (UTF-16 strings plus per-item overhead). */
export function valueBytes(value: Value): number {
  switch (value.type) {
    case "string":
      return value.data.length * 2;
    case "hash": {
      let bytes = 0;
      for (const [field, data] of value.data) bytes += (field.length + data.length) * 2 + 16;
      return bytes;
    }
    case "set": {
      let bytes = 0;
      for (const member of value.data) bytes += member.length * 2 + 8;
      return bytes;
    }
    case "zset": {
      let bytes = 0;
      for (const member of value.data.keys()) bytes += member.length * 2 + 16;
      return bytes;
    }
  }
}

/** Redis's integer syntax: no sign on zero, no leading zeros, no spaces. */
const INTEGER = /^(?:0|-?[1-9]\d*)$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * `text + delta` as Redis's INCRBY and HINCRBY compute it, refusing a result that is not a safe
 * integer as the Redis driver does (Redis's own int64 overflow included).
 */
export function increment(
  text: string | undefined,
  delta: number,
  key: string,
  field?: string,
): number {
  if (text === undefined) return delta;
  const current = INTEGER.test(text) ? Number(text) : NaN;
  // A safe number is exact: a text beyond the safe range never rounds into it.
  if (Number.isSafeInteger(current)) {
    const next = current + delta;
    if (Number.isSafeInteger(next)) return next;
    throw unsafeIncrementError(key, field);
  }
  // Rare: an integer beyond 2^53 stored by another client; exact arithmetic decides.
  const exact = Number.isNaN(current) ? undefined : BigInt(text);
  if (exact === undefined || exact < INT64_MIN || exact > INT64_MAX) {
    const what = field === undefined
      ? `key '${shownKey(key)}'`
      : `field '${field}' of key '${shownKey(key)}'`;
    throw new RangeError(`Cannot increment ${what} as its value is not an integer`);
  }
  const next = exact + BigInt(delta);
  if (next < -Number.MAX_SAFE_INTEGER || next > Number.MAX_SAFE_INTEGER) {
    throw unsafeIncrementError(key, field);
  }
  return Number(next);
}

/** Members by score, then by member, as Redis orders a sorted set. */
export function sortedMembers(data: Map<string, number>): ZMember[] {
  return [...data].map(([member, score]) => ({ member, score }))
    .sort((a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}

/** The inclusive index range of Redis's ZRANGE `start`/`stop`, negatives counting from the end. */
export function rankRange(length: number, start: number, stop: number): [number, number] {
  const from = Math.max(0, start < 0 ? length + start : start);
  const to = Math.min(length - 1, stop < 0 ? length + stop : stop);
  return [from, to];
}
