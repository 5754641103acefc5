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

const MURMUR2_SEED = 0x9747b28c;
const MURMUR2_M = 0x5bd1e995;
const encoder = new TextEncoder();
let scratch = new Uint8Array(256);

/**
 * Kafka's murmur2 of bytes, as the Java client's `Utils.murmur2` computes it (a signed 32-bit
 * result), which kafkajs's and franz-go's default partitioners use too.
 *
 * @param data The bytes to hash.
 * @param length How many of them, from the start.
 * @returns A signed 32-bit integer.
 */
export function murmur2(data: Uint8Array, length: number = data.length): number {
  let h = (MURMUR2_SEED ^ length) | 0;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, MURMUR2_M);
    k ^= k >>> 24;
    k = Math.imul(k, MURMUR2_M);
    h = Math.imul(h, MURMUR2_M) ^ k;
  }
  switch (length & 3) {
    case 3:
      h ^= data[whole + 2] << 16;
    // falls through
    case 2:
      h ^= data[whole + 1] << 8;
    // falls through
    case 1:
      h ^= data[whole];
      h = Math.imul(h, MURMUR2_M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, MURMUR2_M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * The partition Kafka's default partitioner gives a keyed record: murmur2 of the key's UTF-8
 * bytes, made positive (`& 0x7fffffff`), modulo the topic's partition count, as the Java client,
 * kafkajs and franz-go do, so producers in any of them put one key on one partition.
 *
 * @param key The record's key.
 * @param partitions The topic's partition count.
 * @returns The partition.
 */
export function kafkaPartition(key: string, partitions: number): number {
  // UTF-8 is at most three bytes per UTF-16 unit.
  if (scratch.length < key.length * 3) scratch = new Uint8Array(key.length * 3);
  const { written } = encoder.encodeInto(key, scratch);
  return (murmur2(scratch, written) & 0x7fffffff) % partitions;
}
