/**
 * A caller's search query checked against its index's mappings and normalized for drivers:
 * text analyzed into terms, filter and range values typed (dates to epoch ms), paging bounded.
 *
 * @module
 */
import { analyze } from "./analyze.ts";
import type { Doc, DriverQuery, FieldType, SearchQuery } from "./types.ts";
import { keyValue } from "./values.ts";

/** Elasticsearch's `index.max_result_window`: `from + size` at most. */
const MAX_WINDOW = 10_000;

/**
 * `query` on index `name` as drivers take it.
 *
 * @param name The index's full name, for messages.
 * @param types The index's field types.
 * @param query The caller's query.
 * @returns The normalized query.
 * @throws {TypeError} On a field the index lacks or of the wrong type, or a bad value.
 * @throws {RangeError} On paging beyond 10,000 hits.
 */
export function normalizeQuery<T extends Doc>(
  name: string,
  types: Readonly<Record<string, FieldType>>,
  query: SearchQuery<T>,
): DriverQuery {
  const what = `search '${name}'`;
  if (query === null || typeof query !== "object") {
    throw new TypeError(`Cannot ${what} as 'query' must be an object`);
  }
  const text = query.text ?? "";
  if (typeof text !== "string") {
    throw new TypeError(`Cannot ${what} as 'text' must be a string: current value is ${text}`);
  }
  const fields = query.fields ?? Object.keys(types).filter((field) => types[field] === "text");
  for (const field of fields) {
    if (types[field] !== "text") {
      throw new TypeError(`Cannot ${what} as '${field}' is not a text field of the index`);
    }
  }
  const operator = query.operator ?? "or";
  if (operator !== "or" && operator !== "and") {
    throw new TypeError(
      `Cannot ${what} as 'operator' must be "or" or "and": current value is ${
        JSON.stringify(operator)
      }`,
    );
  }
  const { filters, ranges, sort } = keyClauses(what, types, query);
  const from = query.from ?? 0;
  const size = query.size ?? 10;
  if (
    !Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(size) || size < 0 ||
    from + size > MAX_WINDOW
  ) {
    throw new RangeError(
      `Cannot ${what} as 'from' and 'size' must be non-negative integers with from + size at most ${MAX_WINDOW}: current values are ${from} and ${size}`,
    );
  }
  return {
    text,
    terms: [...new Set(analyze(text))],
    fields,
    operator,
    filters,
    ranges,
    sort,
    from,
    size,
  };
}

/** The query's filters, ranges and sort, each on a field of a type that allows it, values typed. */
function keyClauses<T extends Doc>(
  what: string,
  types: Readonly<Record<string, FieldType>>,
  query: SearchQuery<T>,
): Pick<DriverQuery, "filters" | "ranges" | "sort"> {
  const filterable = (field: string, kinds: readonly FieldType[]): FieldType => {
    const type = types[field];
    if (!kinds.includes(type)) {
      throw new TypeError(
        `Cannot ${what} as '${field}' is not a ${kinds.join(", ")} field of the index`,
      );
    }
    return type;
  };
  const filters = Object.entries(query.filter ?? {}).map(([field, given]) => {
    const type = filterable(field, ["keyword", "number", "boolean", "date"]);
    const list = Array.isArray(given) ? given : [given];
    return {
      field,
      values: list.map((value) => keyValue(`${what}: filter '${field}'`, type, value)),
    };
  });
  const ranges = Object.entries(query.range ?? {}).map(([field, range]) => {
    const type = filterable(field, ["number", "date"]);
    const bound = (key: "gte" | "gt" | "lte" | "lt") =>
      range?.[key] === undefined
        ? undefined
        : keyValue(`${what}: range '${field}.${key}'`, type, range[key]) as number;
    return { field, gte: bound("gte"), gt: bound("gt"), lte: bound("lte"), lt: bound("lt") };
  });
  const sort = (query.sort ?? []).map(({ field, order = "asc" }) => {
    filterable(field, ["keyword", "number", "boolean", "date"]);
    if (order !== "asc" && order !== "desc") {
      throw new TypeError(`Cannot ${what} as sort order must be "asc" or "desc"`);
    }
    return { field, order };
  });
  return { filters, ranges, sort };
}
