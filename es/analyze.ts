/**
 * The text analyzer of the memory and PostgreSQL search drivers, after
 * Elasticsearch's `cjk` analyzer: NFKC width folding, lowercase, words of
 * letters and digits, and overlapping bigrams of Chinese, Japanese and Korean
 * characters (which have no spaces between words). Latin and CJK text written
 * together (`iPhone手机`) split where the script changes.
 *
 * @module
 */

/** Letters of Chinese, Japanese and Korean, the kana prolonged sound mark and 々 included. */
const CJK = String.raw`[\p{L}\p{M}]&&[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]`;
/** Letters, digits and `_` of other scripts. */
const WORD = String.raw`[[\p{L}\p{N}\p{M}_]--[${CJK}]]`;
/**
 * A run of CJK letters, or a word: letters and digits, joined across `'`, `’` and `.` when both
 * sides are letters or digits (`don't`, `3.14`, `u.s.a`), as Unicode word boundaries (UAX #29,
 * Elasticsearch's standard tokenizer) keep them.
 */
const WORD_START = String.raw`[[\p{L}\p{N}_]--[${CJK}]]`;
/** A word starts with a letter, digit or `_`: a lone mark (an emoji's variation selector) is none. */
const TOKEN = new RegExp(
  String.raw`[${CJK}]+|${WORD_START}${WORD}*(?:['’.]${WORD_START}${WORD}*)*`,
  "gv",
);
const STARTS_CJK = new RegExp(String.raw`^[${CJK}]`, "v");

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
    if (!STARTS_CJK.test(run)) {
      terms.push(run);
      continue;
    }
    const chars = Array.from(run);
    if (chars.length === 1) terms.push(run);
    for (let i = 0; i + 1 < chars.length; i++) terms.push(chars[i] + chars[i + 1]);
  }
  return terms;
}
