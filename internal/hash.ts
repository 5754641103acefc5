/**
 * Stable string hashing for routing (shards, partitions).
 *
 * @module
 */

/**
 * 32-bit FNV-1a of a string's UTF-16 code units: the same value in every process and driver.
 *
 * @param text The text to hash.
 * @returns An unsigned 32-bit integer.
 */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
