/**
 * A Lua script with its SHA-1, for EVALSHA: the one shape every Redis driver's script takes,
 * run by `Connection.runScript`.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** A Lua script and the SHA-1 Redis caches it under. */
export interface Script {
  /** Name, for reading. */
  readonly name: string;
  /** The Lua source, sent with EVAL when Redis does not know the SHA. */
  readonly lua: string;
  /** SHA-1 of `lua`, hex. */
  readonly sha: string;
}

/** Makes a {@linkcode Script}, hashing its source once. */
export function script(name: string, lua: string): Script {
  return { name, lua, sha: createHash("sha1").update(lua).digest("hex") };
}
