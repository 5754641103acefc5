/**
 * The backend key layout (`keyspace`) and the argument checks shared by the
 * cache provider and the stand-alone Redis lock.
 *
 * @module
 */
import { malformedText } from "../internal/text.ts";

/**
 * Ends a cache's key prefix and marks the kit's own keys (U+001F, the ASCII unit separator); no
 * cache key and no prefix may contain it.
 */
export const KEY_SEPARATOR = "\x1f";

/**
 * A backend key for a message: U+001F (the prefix's end) is invisible in a terminal, so it is
 * shown escaped.
 *
 * @param key The backend key.
 * @returns The key with U+001F written as `\x1f`.
 */
export function shownKey(key: string): string {
  return key.replaceAll(KEY_SEPARATOR, "\\x1f");
}

/** The longest delay `setTimeout` keeps (about 24.8 days); a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The kit's own records beside a caller's key. */
export type InternalKeyKind = "lock" | "fence" | "load";

/** How a cache names its keys on the backend; {@linkcode keyspace} describes the layout. */
export interface Keyspace {
  /**
   * Validates a caller's key and returns its backend key.
   *
   * @throws {TypeError} When the key is empty, not a string, contains U+001F or is not
   * well-formed Unicode.
   */
  key(action: string, key: string): string;
  /**
   * The backend key of the kit's own record `kind` for a caller's key, which no caller's key
   * can name.
   *
   * @throws {TypeError} As {@linkcode Keyspace.key}.
   */
  internal(kind: InternalKeyKind, action: string, key: string): string;
}

/**
 * Checks that a string can become (part of) a backend key or stored text: a lone surrogate has
 * no UTF-8 encoding, so Redis would store U+FFFD and two such strings would be one.
 *
 * @param action What was being done, for the message (`hset key 'h'`).
 * @param name The argument's name (`field`, `member`).
 * @param value The string.
 * @returns The string.
 * @throws {TypeError} When it is not a string or not well-formed Unicode.
 */
export function requireText(action: string, name: string, value: unknown): string {
  const problem = textProblem(action, name, value);
  if (problem) throw problem;
  return value as string;
}

function textProblem(action: string, name: string, value: unknown): TypeError | undefined {
  if (typeof value !== "string") {
    return new TypeError(
      `Cannot ${action} as '${name}' must be a string: current value is ${typeof value}`,
    );
  }
  return malformedText(action, name, value);
}

/** Why a key or prefix cannot be one, or undefined when it can. */
function nameProblem(action: string, name: string, value: unknown): TypeError | undefined {
  if (name === "key" && (typeof value !== "string" || value.length === 0)) {
    return new TypeError(
      `Cannot ${action} as 'key' must be a non-empty string: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  const problem = textProblem(action, name, value);
  if (problem || !(value as string).includes(KEY_SEPARATOR)) return problem;
  return new TypeError(
    `Cannot ${action} as '${name}' must not contain U+001F (it ends the key prefix): current value is ${
      JSON.stringify(value)
    }`,
  );
}

/**
 * The key layout of a cache (or a stand-alone lock) with `prefix`, which a service in another
 * language sharing the backend can compute: a caller's key `k` is `k` without a prefix and
 * `prefix + "\x1f" + k` with one; the lock, fencing counter and load lease of `k` are
 * `"\x1f" + kind + ":" + k` and `prefix + "\x1f\x1f" + kind + ":" + k`, with kind `lock`,
 * `fence` or `load`. Keys and prefixes never contain U+001F, so a caller's key under one prefix
 * is never another prefix's key (`n` and `n:x` included) nor one of the kit's own.
 *
 * @example The backend keys of prefix `im` and of no prefix
 * ```ts
 * import { keyspace } from "./driver.ts";
 * import assert from "node:assert/strict";
 *
 * const im = keyspace("im");
 * assert.equal(im.key("get", "session:42"), "im\x1fsession:42");
 * assert.equal(im.internal("lock", "acquire", "job"), "im\x1f\x1flock:job");
 * assert.equal(keyspace("").key("get", "session:42"), "session:42");
 * assert.equal(keyspace("").internal("fence", "acquire", "job"), "\x1ffence:job");
 * assert.throws(() => im.key("get", "a\x1fb"), TypeError);
 * ```
 *
 * @param prefix The configured `keyPrefix`; `""` for none.
 * @param creating What is being created, for the message (`create cache`).
 * @returns The keyspace.
 * @throws {TypeError} When the prefix is not a string, contains U+001F or is not well-formed.
 */
export function keyspace(prefix: string, creating = "create cache"): Keyspace {
  const problem = nameProblem(creating, "keyPrefix", prefix);
  if (problem) throw problem;
  const namespace = prefix === "" ? "" : prefix + KEY_SEPARATOR;
  // On every call: small enough to be inlined, with the message worked out apart.
  const key = (action: string, name: string): string => {
    if (typeof name !== "string" || !plainKey(name)) {
      const problem = nameProblem(action, "key", name);
      if (problem) throw problem;
    }
    return namespace + name;
  };
  return {
    key,
    internal: (kind, action, name) =>
      `${namespace}${KEY_SEPARATOR}${kind}:${key(action, name).slice(namespace.length)}`,
  };
}

/** Keys up to this length are always flat strings (V8 builds longer ones from parts lazily). */
const SHORT_KEY = 12;

/**
 * Whether a key is non-empty, free of U+001F and well-formed. A short key is scanned in a loop the
 * compiler inlines (about 15 ns less per call than the two built-ins, which cost the same on any
 * length and so check the longer keys). False sends the key to the full check, which names the
 * problem, or accepts a short key holding a surrogate pair.
 */
function plainKey(name: string): boolean {
  const length = name.length;
  if (length > SHORT_KEY) return !name.includes(KEY_SEPARATOR) && name.isWellFormed();
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const code = name.charCodeAt(i);
    // U+001F, or half of a surrogate pair: a lone half is ill-formed, a pair goes the long way.
    if (code === 0x1f || (code >= 0xd800 && code <= 0xdfff)) return false;
  }
  return true;
}

/**
 * Checks a TTL in milliseconds.
 *
 * @param action What was being done, for the message.
 * @param ttlMs The TTL.
 * @param allowZero Whether 0 (no expiry) is allowed.
 * @param maxMs The largest TTL allowed, named in the message when exceeded.
 * @returns The TTL.
 * @throws {RangeError} When not a positive integer (or non-negative, with `allowZero`), or above
 * `maxMs`.
 */
export function requireTtl(
  action: string,
  ttlMs: unknown,
  allowZero = false,
  maxMs = Number.MAX_SAFE_INTEGER,
): number {
  if (
    typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs < 0 ||
    (!allowZero && ttlMs === 0)
  ) {
    throw new RangeError(
      `Cannot ${action} as 'ttlMs' must be a ${
        allowZero ? "non-negative integer (0 for no expiry)" : "positive integer"
      }: current value is ${ttlMs}`,
    );
  }
  if (ttlMs > maxMs) {
    throw new RangeError(
      `Cannot ${action} as 'ttlMs' must be at most ${maxMs} ms (the longest timer delay): current value is ${ttlMs}`,
    );
  }
  return ttlMs;
}

/** The largest integer a `number` holds exactly, and so the bound of the kit's counters. */
const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/**
 * The error of an increment whose result would not be a safe integer (beyond ±(2^53 − 1), where
 * a `number` loses precision; Redis's own int64 overflow included). The value stays unchanged.
 *
 * @param key The backend key.
 * @param field The hash field, for `hincrBy`.
 * @param cause The backend's error, if any.
 * @returns The error to reject with.
 */
export function unsafeIncrementError(key: string, field?: string, cause?: unknown): RangeError {
  const what = field === undefined
    ? `key '${shownKey(key)}'`
    : `field '${field}' of key '${shownKey(key)}'`;
  return new RangeError(
    `Cannot increment ${what} as the result would be beyond ±${MAX_COUNTER}, the safe-integer range; the value is unchanged`,
    { cause },
  );
}
