/**
 * Redaction of log fields before any sink sees them: configured paths (`user.email`,
 * `*.phone`, `headers.x-api-key`) and, unless turned off, credentials wherever they sit: fields
 * named like a secret (`password`, `token`, `authorization`, `apiKey`, `cookie` …) and the
 * password of a `scheme://user:password@host` in a string. A record that holds nothing to
 * redact passes on as it is, without a copy.
 *
 * @module
 */
import { REDACTED, redactUrl } from "../internal/redact.ts";
import type { Fields } from "./types.ts";

/** Field names that hold credentials, in any case, `-` or `_` or nothing between the words. */
const CREDENTIAL =
  /^(?:password|passwd|pwd|passphrase|secret|client[-_]?secret|token|access[-_]?token|refresh[-_]?token|id[-_]?token|api[-_]?key|private[-_]?key|authorization|proxy[-_]?authorization|cookie|set[-_]?cookie|credentials?)$/i;
/** Field names seen, and whether each is a credential's: names repeat, the pattern is slow. */
const credentialNames = new Map<string, boolean>();
function isCredential(key: string): boolean {
  let known = credentialNames.get(key);
  if (known === undefined) {
    if (credentialNames.size >= 10_000) credentialNames.clear();
    credentialNames.set(key, known = CREDENTIAL.test(key));
  }
  return known;
}
/** How deep nested objects are searched for credentials. */
const MAX_DEPTH = 8;

interface PathNode {
  readonly children: Map<string, PathNode>;
  /** `*`: any key at this level. */
  any?: PathNode;
  /** The path ends here: the value is redacted. */
  leaf: boolean;
}

const node = (): PathNode => ({ children: new Map(), leaf: false });
const NONE: readonly PathNode[] = [];

/** Turns a field's value into what the sinks get, or returns it when nothing changed. */
export type Redactor = (fields: Fields) => Fields;

/**
 * Builds the redactor of a logger tree.
 *
 * @param paths Dotted field paths to redact; `*` stands for any one key.
 * @param credentials Redact credentials wherever they are.
 * @returns The redactor, or undefined when there is nothing to redact.
 * @throws {TypeError} On an empty path or segment.
 */
export function redactor(paths: readonly string[], credentials: boolean): Redactor | undefined {
  if (paths.length === 0 && !credentials) return undefined;
  const root = node();
  for (const path of paths) {
    if (typeof path !== "string" || path.split(".").some((segment) => segment === "")) {
      throw new TypeError(
        `Cannot create logger as each 'redact' path must be dot-separated field names or '*': current value is ${
          JSON.stringify(path)
        }`,
      );
    }
    let at = root;
    for (const segment of path.split(".")) {
      if (segment === "*") at = at.any ??= node();
      else {
        let next = at.children.get(segment);
        if (next === undefined) at.children.set(segment, next = node());
        at = next;
      }
    }
    at.leaf = true;
  }
  const hasPaths = paths.length > 0;
  const walk = (value: unknown, at: readonly PathNode[], depth: number): unknown => {
    if (typeof value === "string") {
      return credentials && value.includes("://") && value.includes("@") ? redactUrl(value) : value;
    }
    if (value === null || typeof value !== "object" || depth > MAX_DEPTH) return value;
    const array = Array.isArray(value);
    if (!array) {
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return value; // errors, dates, classes
    }
    if (!credentials && at.length === 0) return value;
    const source = value as Record<string, unknown>;
    let copy: Record<string, unknown> | unknown[] | undefined;
    for (const key of Object.keys(source)) {
      let next = NONE;
      for (const parent of at) {
        const child = parent.children.get(key);
        if (child) next = [...next, child];
        if (parent.any) next = [...next, parent.any];
      }
      const item = source[key];
      const replaced = (credentials && !array && isCredential(key)) || next.some((n) => n.leaf)
        ? REDACTED
        : typeof item === "object" || typeof item === "string"
        ? walk(item, next, depth + 1)
        : item;
      if (replaced !== item) {
        copy ??= array ? [...(value as unknown[])] : { ...source };
        (copy as Record<string, unknown>)[key] = replaced;
      }
    }
    return copy ?? value;
  };
  const start = hasPaths ? [root] : [];
  return (fields) => walk(fields, start, 0) as Fields;
}
