/**
 * What the memory driver's search paths share besides scoring: the filter and range test, and
 * the order of hits (score, then sort keys, then id by code point, as Elasticsearch orders).
 *
 * @module
 */
import type { DriverQuery, FilterValue } from "./types.ts";

/** Whether a stored document's keys pass a query's filters and ranges. */
export function passes(keys: Readonly<Record<string, FilterValue>>, query: DriverQuery): boolean {
  for (const { field, values } of query.filters) {
    if (!values.includes(keys[field])) return false;
  }
  for (const range of query.ranges) {
    const value = keys[range.field];
    if (typeof value !== "number") return false;
    if (range.gte !== undefined && !(value >= range.gte)) return false;
    if (range.gt !== undefined && !(value > range.gt)) return false;
    if (range.lte !== undefined && !(value <= range.lte)) return false;
    if (range.lt !== undefined && !(value < range.lt)) return false;
  }
  return true;
}

/** A UTF-16 code unit moved so that code units compare in code point order (ICU's fix-up). */
const fixUp = (unit: number): number =>
  unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;

/**
 * Compares strings by code point, as PostgreSQL's "C" collation and Elasticsearch do; `<` on
 * strings compares UTF-16 code units, which puts U+E000–U+FFFF after characters beyond U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return fixUp(x) - fixUp(y);
  }
  return a.length - b.length;
}

/**
 * Compares two sort values: numbers and booleans by value, strings by code point; a missing
 * value sorts last whatever the order, as in Elasticsearch.
 */
export function compareKeys(
  a: FilterValue | undefined,
  b: FilterValue | undefined,
  order: "asc" | "desc",
): number {
  if (a === b) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  const less = typeof a === "string" && typeof b === "string"
    ? compareCodePoints(a, b) < 0
    : Number(a) < Number(b);
  return (less ? -1 : 1) * (order === "asc" ? 1 : -1);
}
