/**
 * Once conformance: bad input, which leaves the key free.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { OnceSuiteContext } from "./_context.ts";

/**
 * Registers the bad-input case: a clear error, and the key stays free.
 *
 * @param context The suite's driver, helpers and `test`.
 */
export function inputCases(context: OnceSuiteContext): void {
  const { test, pair } = context;

  test("bad input gets a clear error and leaves the key free", async () => {
    await using env = await pair();
    await assert.rejects(
      env.a.execute("", 1000, () => Promise.resolve(1)),
      /'key' must be a non-empty, well-formed Unicode string/,
    );
    // Lone surrogates: Redis would store both as the same U+FFFD key.
    for (const key of ["x\ud800", "x\udc00"]) {
      await assert.rejects(
        env.a.execute(key, 1000, () => Promise.resolve(1)),
        /'key' must be a non-empty, well-formed Unicode string/,
      );
    }
    await assert.rejects(
      env.a.execute("k", 0, () => Promise.resolve(1)),
      /'ttlMs' must be a positive integer/,
    );
    await assert.rejects(
      env.a.execute("k", 1000, () => Promise.resolve({ m: new Map() })),
      /value.m is a Map/,
    );
    assert.equal(
      await env.b.execute("k", 1000, () => Promise.resolve("fine")),
      "fine",
      "the key was freed",
    );
  });
}
