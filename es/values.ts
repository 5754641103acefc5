/**
 * Checks of the values a caller gives: document ids, and keyword, number, boolean and date
 * values (dates to epoch ms), with messages naming what was being done.
 *
 * @module
 */
import { malformedText } from "../internal/text.ts";
import type { FieldType, FilterValue } from "./types.ts";

const utf8 = new TextEncoder();

/** `id` if it is a document id Elasticsearch takes too; else a TypeError saying why. */
export function requireId(action: string, id: unknown): string {
  // 512 bytes of UTF-8 is Elasticsearch's limit on _id.
  if (
    typeof id !== "string" || id.length === 0 || id.length > 512 ||
    (id.length > 170 && utf8.encode(id).length > 512)
  ) {
    throw new TypeError(
      `Cannot ${action} as 'id' must be a string of 1 to 512 bytes (UTF-8): current value is ${
        JSON.stringify(typeof id === "string" && id.length > 80 ? `${id.slice(0, 80)}…` : id)
      }`,
    );
  }
  const malformed = malformedText(action, "id", id);
  if (malformed) throw malformed;
  return id;
}

/** ISO-8601 as Elasticsearch's `strict_date_optional_time` reads it; no offset is UTC. */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** A date field's value as epoch ms: strict ISO-8601 text (UTC unless it says) or epoch ms. */
function dateValue(what: string, value: unknown): number {
  let ms = NaN;
  if (typeof value === "number") ms = value;
  else if (typeof value === "string") {
    const m = ISO_DATE.exec(value);
    if (m) {
      const [, y, mo, d, h = "0", mi = "0", s = "0", fraction = "", zone = "Z"] = m;
      const offsetHours = zone === "Z" ? 0 : Number(zone.slice(1, 3));
      const offsetMinutes = zone === "Z" ? 0 : Number(zone.slice(zone.length - 2));
      // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
      const date = new Date(0);
      date.setUTCFullYear(+y, +mo - 1, +d);
      date.setUTCHours(+h, +mi, +s, Number(fraction.padEnd(3, "0").slice(0, 3)));
      // A date that does not exist (2026-02-30 rolls over into March) or an offset beyond what
      // Elasticsearch takes (±18:00) is refused.
      if (
        date.getUTCFullYear() === +y && date.getUTCMonth() === +mo - 1 &&
        date.getUTCDate() === +d && +h < 24 && +mi < 60 && +s < 60 && offsetHours <= 18 &&
        offsetMinutes < 60
      ) {
        const sign = zone[0] === "-" ? -1 : 1;
        ms = date.getTime() - sign * (offsetHours * 60 + offsetMinutes) * 60_000;
      }
    }
  }
  if (!Number.isFinite(ms)) {
    throw new TypeError(
      `Cannot ${what} as it must be an ISO-8601 date or epoch milliseconds: current value is ${
        JSON.stringify(value)
      }`,
    );
  }
  return ms;
}

/** A filter value checked against its field's type (dates to epoch ms). */
export function keyValue(what: string, type: FieldType, value: unknown): FilterValue {
  if (type === "date") return dateValue(what, value);
  const ok = type === "keyword"
    ? typeof value === "string"
    : type === "number"
    ? typeof value === "number" && Number.isFinite(value)
    : typeof value === "boolean";
  if (!ok) {
    throw new TypeError(
      `Cannot ${what} as a ${type} field takes a ${
        type === "keyword" ? "string" : type === "number" ? "finite number" : "boolean"
      }: current value is ${JSON.stringify(value)}`,
    );
  }
  return value as FilterValue;
}
