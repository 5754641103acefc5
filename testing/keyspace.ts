/**
 * Per-test key namespaces, so suites sharing one Redis, etcd or database never see each other's keys.
 *
 * @module
 */

let counter = 0;

/**
 * A prefix unique to this call: `kit-test/<run>/<n>-<slug>/`. Use it for every
 * key, topic or table a test creates on a shared backend.
 *
 * @param label Readable part, usually the test name.
 * @returns The prefix, ending in `/`.
 *
 * @example Two tests never share keys
 * ```ts
 * import { testKeyspace } from "./keyspace.ts";
 * import assert from "node:assert/strict";
 *
 * assert.notEqual(testKeyspace("lock"), testKeyspace("lock"));
 * ```
 */
export function testKeyspace(label = "test"): string {
  const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40);
  return `kit-test/${RUN_ID}/${++counter}-${slug || "test"}/`;
}

/** Distinguishes test processes (and reruns) from each other. */
export const RUN_ID: string = `${Date.now().toString(36)}${
  Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, "0")
}`;
