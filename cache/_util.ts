/**
 * Argument checks shared by the cache provider and the stand-alone Redis lock.
 *
 * @module
 */

/**
 * A function that validates a key and puts `prefix` before it.
 *
 * @throws {TypeError} (from the returned function) On an empty or non-string key.
 */
export function prefixedKey(prefix: string): (action: string, key: string) => string {
  return (action, key) => {
    if (typeof key !== "string" || key.length === 0) {
      throw new TypeError(
        `Cannot ${action} as 'key' must be a non-empty string: current value is ${
          JSON.stringify(key)
        }`,
      );
    }
    return prefix + key;
  };
}

/**
 * Checks a TTL in milliseconds.
 *
 * @throws {RangeError} When not a positive integer (or non-negative, with `allowZero`).
 */
export function requireTtl(action: string, ttlMs: unknown, allowZero = false): number {
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
  return ttlMs;
}
