/**
 * JSON encoding that refuses, with a clear message, values JSON would silently
 * change or drop (undefined, functions, bigint, NaN, cycles).
 *
 * @module
 */

function check(value: unknown, path: string, ancestors: unknown[]): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
    case "object": {
      if (value === null) return undefined;
      if (ancestors.includes(value)) return `${path} refers back to itself (a cycle)`;
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
      if (value instanceof Map || value instanceof Set) {
        return `${path} is a ${value.constructor.name}, which JSON turns into {}`;
      }
      ancestors.push(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const problem = check(value[i], `${path}[${i}]`, ancestors);
            if (problem) return problem;
          }
        } else {
          for (const [key, item] of Object.entries(value)) {
            if (item === undefined) continue; // an absent optional field
            const problem = check(item, `${path}.${key}`, ancestors);
            if (problem) return problem;
          }
        }
      } finally {
        ancestors.pop();
      }
      return undefined;
    }
    default:
      return `${path} is ${
        typeof value === "function" ? "a function" : `a ${typeof value}`
      }, which JSON cannot hold`;
  }
}

/**
 * Serializes `value` to JSON, or explains why it cannot be stored as such.
 *
 * @param value The value to store.
 * @param what What the value is, for the message (`value of config key '/a'`).
 * @returns The JSON text.
 * @throws {TypeError} Naming the offending path within the value.
 */
export function encodeJson(value: unknown, what: string): string {
  const problem = check(value, "value", []);
  if (problem) throw new TypeError(`Cannot store ${what} as JSON: ${problem}`);
  return JSON.stringify(value);
}
