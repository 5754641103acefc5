/**
 * The owner-key scripts: a key set to a random owner token with a TTL, renewed and deleted
 * only by that owner. The cache driver's locks run them, and so does the mq driver for the
 * partition ownership of a consumer group's members.
 *
 * @module
 */
import { script } from "./script.ts";

/** Sets KEYS[1] to the owner ARGV[1] for ARGV[2] ms if free; returns KEYS[2] incremented (the fence), or false. */
export const lockAcquire = script(
  "lockAcquire",
  `if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return redis.call('INCR', KEYS[2]) end
return false`,
);

/** Extends KEYS[1] to ARGV[2] ms if ARGV[1] owns it; returns the TTL granted, or 0. */
export const lockRenew = script(
  "lockRenew",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return tonumber(ARGV[2]) end
return 0`,
);

/** Deletes KEYS[1] if ARGV[1] owns it; returns 1 when it did, else 0. */
export const lockRelease = script(
  "lockRelease",
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);
