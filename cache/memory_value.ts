/**
 * What the memory cache driver stores under a key, its approximate size, and
 * the Redis semantics of operating on it (integer increments, sorted-set order
 * and rank ranges).
 *
 * @module
 */
import { shownKey, unsafeIncrementError } from "./_util.ts";
import type { SortedSet } from "./sorted_set.ts";

/** A stored value: one of Redis's four types the kit uses, or a Bloom filter's bit string. */
export type Value =
  | {
    type: "string";
    data: string;
    /**
     * The text decoded, kept when it decodes to a primitive (immutable, so every caller may get
     * the same one), with the decoder it came from: a hit then skips the parse.
     */
    decoded?: unknown;
    decodedWith?: (text: string) => unknown;
  }
  | { type: "bits"; data: Uint8Array }
  | { type: "hash"; data: Map<string, string> }
  | { type: "set"; data: Set<string> }
  | { type: "zset"; data: SortedSet };

/** Approximate bytes of a value's data (UTF-16 strings plus per-item overhead). */
export function valueBytes(value: Value): number {
  switch (value.type) {
    case "string":
      return value.data.length * 2;
    case "bits":
      return value.data.length;
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
    case "zset":
      return value.data.bytes; // kept as members come and go: no walk per change
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

/** The inclusive index range of Redis's ZRANGE `start`/`stop`, negatives counting from the end. */
export function rankRange(length: number, start: number, stop: number): [number, number] {
  const from = Math.max(0, start < 0 ? length + start : start);
  const to = Math.min(length - 1, stop < 0 ? length + stop : stop);
  return [from, to];
}

/**
 * Sets the bits at `offsets` (Redis's order: bit 0 is the high bit of byte 0) and returns their
 * previous values; `data` must be long enough.
 */
export function setBits(data: Uint8Array, offsets: readonly number[]): boolean[] {
  return offsets.map((offset) => {
    const mask = 0x80 >>> (offset & 7);
    const index = Math.floor(offset / 8);
    const previous = (data[index] & mask) !== 0;
    data[index] |= mask;
    return previous;
  });
}

/** The bits at `offsets`, false beyond the end of `data`. */
export function getBits(data: Uint8Array | undefined, offsets: readonly number[]): boolean[] {
  return offsets.map((offset) =>
    ((data?.[Math.floor(offset / 8)] ?? 0) & (0x80 >>> (offset & 7))) !== 0
  );
}

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/g;

/**
 * A Redis glob pattern (PSUBSCRIBE, KEYS) as a RegExp over the whole name: `*` any run, `?` one
 * character, `[abc]`, `[^a]`, `[a-c]` classes, and `\` making the next character literal.
 */
export function globRegExp(pattern: string): RegExp {
  const literal = (text: string) => text.replace(REGEXP_SPECIAL, "\\$&");
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === "*") source += "[\\s\\S]*";
    else if (char === "?") source += "[\\s\\S]";
    else if (char === "\\" && i + 1 < pattern.length) source += literal(pattern[++i]);
    else if (char === "[") {
      let j = i + 1;
      let negated = false;
      if (pattern[j] === "^") {
        negated = true;
        j++;
      }
      let set = "";
      for (; j < pattern.length && pattern[j] !== "]"; j++) {
        if (pattern[j] === "\\" && j + 1 < pattern.length) set += literal(pattern[++j]);
        else if (pattern[j] === "-" && set !== "" && pattern[j + 1] !== "]") set += "-";
        else set += literal(pattern[j]);
      }
      // An unclosed class runs to the end of the pattern, as in Redis.
      source += set === "" ? (negated ? "[\\s\\S]" : "(?!)") : `[${negated ? "^" : ""}${set}]`;
      i = j;
    } else source += literal(char);
  }
  return new RegExp(`^${source}$`, "s");
}
