/**
 * The text analyzer of the memory and PostgreSQL search drivers, after
 * Elasticsearch's `cjk` analyzer: NFKC width folding, lowercase, words of
 * letters and digits, and overlapping bigrams of Chinese, Japanese and Korean
 * characters (which have no spaces between words).
 *
 * @module
 */

/** A run of CJK characters, or a run of other letters, digits and marks. */
const TOKEN =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+|[\p{L}\p{N}\p{M}]+/gu;
const CJK = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/**
 * The terms of a text, in order, repeats kept.
 *
 * @param text Any text.
 * @returns Its terms: lowercase words; CJK runs as overlapping bigrams (a lone character as
 * itself).
 *
 * @example
 * ```ts
 * import { analyze } from "./analyze.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(analyze("Hello, 世界和平! ＡＢＣ"), ["hello", "世界", "界和", "和平", "abc"]);
 * ```
 */
export function analyze(text: string): string[] {
  const terms: string[] = [];
  for (const [run] of text.normalize("NFKC").toLowerCase().matchAll(TOKEN)) {
    if (!CJK.test(run)) {
      terms.push(run);
      continue;
    }
    const chars = Array.from(run);
    if (chars.length === 1) terms.push(run);
    for (let i = 0; i + 1 < chars.length; i++) terms.push(chars[i] + chars[i + 1]);
  }
  return terms;
}
