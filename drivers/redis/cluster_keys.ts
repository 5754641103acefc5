/**
 * Keys in a Redis Cluster: the hash slot of a key (as the cluster computes it), commands over
 * several keys split by slot, and the hash tag that keeps a lock's two keys in one slot.
 *
 * A cluster runs a command or script over several keys only when all of them are in one hash
 * slot. Of the kit's scripts only the lock's acquire touches two keys (the lock and its fencing
 * counter); every other script (rate limit, once, lock renew and release, counters) and every
 * mq command touches one key, and needs nothing. On a single Redis no key is renamed.
 *
 * @module
 */

/** The number of hash slots of a Redis Cluster. */
const SLOTS = 16384;

/** CRC16-XMODEM, the table-less form: the checksum Redis Cluster hashes keys with. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

const encoder = new TextEncoder();

/**
 * The hash slot of `key`: of its hash tag (the text between its first `{` and the first `}`
 * after it) when that is not empty, else of the whole key.
 *
 * @param key The key, as sent (UTF-8).
 * @returns The slot, 0 to 16383.
 */
export function slotOf(key: string): number {
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return crc16(encoder.encode(key.slice(open + 1, close))) % SLOTS;
  }
  return crc16(encoder.encode(key)) % SLOTS;
}

/**
 * The positions of `keys` grouped by hash slot, in their order within each group: one command
 * per group, and the replies put back in place.
 *
 * @param keys The keys of one call.
 * @returns The positions of each slot's keys.
 */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>();
  keys.forEach((key, index) => {
    const slot = slotOf(key);
    const group = groups.get(slot);
    if (group === undefined) groups.set(slot, [index]);
    else group.push(index);
  });
  return [...groups.values()];
}

/** A lock or fencing-counter key of the cache's layout: `[prefix \x1f] \x1f lock|fence : name`. */
// deno-lint-ignore no-control-regex -- U+001F is the layout's separator
const LOCK_KEY = /^(?:([^\x1f]*)\x1f)?\x1f(?:lock|fence):/;

/**
 * The key a cache key is stored under in a cluster. A lock's key and its fencing counter get one
 * hash tag in front, `{prefix \x1f name}` (any `}` taken out, which only places keys in the same
 * slot, never makes two keys one), so the acquire script finds both in one slot:
 * `im\x1f\x1flock:job` is stored as `{im\x1fjob}im\x1f\x1flock:job` and its counter as
 * `{im\x1fjob}im\x1f\x1ffence:job`; without a prefix, `{\x1fjob}\x1flock:job`. Every other key
 * (a caller's, a load lease) is stored as it is.
 *
 * @param key A key of the cache's layout.
 * @returns The key as stored in a cluster.
 */
export function clusterKey(key: string): string {
  const match = LOCK_KEY.exec(key);
  if (match === null) return key;
  const name = key.slice(match[0].length);
  return `{${`${match[1] ?? ""}\x1f${name}`.replaceAll("}", "")}}${key}`;
}
