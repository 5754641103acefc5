/**
 * Checks of what opens an index: its name (with the provider's key prefix) and its mappings.
 *
 * @module
 */
import type { FieldType } from "./types.ts";

const INDEX_NAME = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const FIELD_TYPES: readonly FieldType[] = ["text", "keyword", "number", "boolean", "date"];

/** The index's full name, `keyPrefix` + `rawName`, if index names allow it; else a TypeError. */
export function indexName(keyPrefix: string, rawName: unknown): string {
  if (typeof rawName !== "string" || !INDEX_NAME.test(keyPrefix + rawName)) {
    throw new TypeError(
      `Cannot open index as its name must be lowercase letters, digits, '_' and '-', starting with a letter or digit: current value is ${
        JSON.stringify(rawName)
      }`,
    );
  }
  return keyPrefix + rawName;
}

/** The field types of index `name`, checked: field names as Elasticsearch takes them, known types. */
export function checkMappings(name: string, mappings: unknown): Record<string, FieldType> {
  if (mappings === null || typeof mappings !== "object" || Array.isArray(mappings)) {
    throw new TypeError(
      `Cannot open index '${name}' as 'mappings' must be an object of field types`,
    );
  }
  const types: Record<string, FieldType> = {};
  for (const [field, type] of Object.entries(mappings)) {
    if (!FIELD_NAME.test(field)) {
      throw new TypeError(
        `Cannot open index '${name}' as field name ${
          JSON.stringify(field)
        } must match [A-Za-z_][A-Za-z0-9_]*`,
      );
    }
    if (!FIELD_TYPES.includes(type as FieldType)) {
      throw new TypeError(
        `Cannot open index '${name}' as field '${field}' must be one of ${
          FIELD_TYPES.join(", ")
        }: current value is ${JSON.stringify(type)}`,
      );
    }
    types[field] = type as FieldType;
  }
  return types;
}
