/**
 * Documents as drivers take them: each checked against its index's mappings, its text fields
 * analyzed into terms and its other indexed fields turned into filterable keys.
 *
 * @module
 */
import { encodeJson } from "../internal/json.ts";
import { analyze } from "./analyze.ts";
import type { BulkItem, Doc, FieldType, FilterValue, IndexedDoc } from "./types.ts";
import { keyValue, requireId } from "./values.ts";

/** A bulk item as drivers take it. */
export type DriverBulkItem = { op: "index"; doc: IndexedDoc } | { op: "delete"; id: string };

/**
 * Document `id` of index `name`, analyzed for its field types.
 *
 * @throws {TypeError} When it is not a JSON object or a field's value does not fit its type.
 */
export function indexedDoc(
  name: string,
  types: Readonly<Record<string, FieldType>>,
  id: string,
  doc: Doc,
): IndexedDoc {
  const what = `index document '${id}' in '${name}'`;
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new TypeError(`Cannot ${what} as it must be an object`);
  }
  encodeJson(doc, `document '${id}'`); // refuses what JSON would change or drop
  const terms: Record<string, string[]> = {};
  const keys: Record<string, FilterValue> = {};
  for (const [field, type] of Object.entries(types)) {
    const value = doc[field];
    if (value === undefined || value === null) continue;
    if (type === "text") {
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot ${what} as text field '${field}' must be a string: current value is ${
            JSON.stringify(value)
          }`,
        );
      }
      terms[field] = analyze(value);
    } else keys[field] = keyValue(`${what}: field '${field}'`, type, value);
  }
  return { id, doc, terms, keys };
}

/**
 * The items of a bulk write to index `name`, checked and analyzed, in order.
 *
 * @throws {TypeError} When `given` is not a list, or an item's op, id or document is bad.
 */
export function bulkItems<T extends Doc>(
  name: string,
  types: Readonly<Record<string, FieldType>>,
  given: readonly BulkItem<T>[],
): DriverBulkItem[] {
  if (!Array.isArray(given)) {
    throw new TypeError(`Cannot bulk-write to '${name}' as 'items' must be a list`);
  }
  return given.map((item) => {
    if (item?.op === "index") {
      return {
        op: "index" as const,
        doc: indexedDoc(name, types, requireId("index a document", item.id), item.doc),
      };
    }
    if (item?.op === "delete") {
      return { op: "delete" as const, id: requireId("delete a document", item.id) };
    }
    throw new TypeError(
      `Cannot bulk-write to '${name}' as each item's 'op' must be "index" or "delete": got ${
        JSON.stringify(item)
      }`,
    );
  });
}
