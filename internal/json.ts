/**
 * JSON encoding that refuses, with a clear message, values JSON would silently
 * change or drop (undefined, functions, NaN, cycles; bigint too, except in the
 * value codec), and the value codec of cache, once and mq: JSON where a bigint
 * is an integer literal with all its digits, as Go's encoding/json reads into
 * an int64.
 *
 * @module
 */

/** State of one walk over a value. */
interface Walk {
  /** Objects on the path from the root, to find cycles. */
  readonly ancestors: unknown[];
  /** Whether a bigint is written as a JSON integer; refused otherwise. */
  readonly bigint: boolean;
  /** Set when the value holds a bigint or a number beyond ±(2^53 − 1): the replacer is needed. */
  raw: boolean;
}

function check(value: unknown, path: string, walk: Walk): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      if (!Number.isFinite(value)) return `${path} is ${value}, which JSON cannot hold`;
      if (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER) walk.raw = true;
      return undefined;
    case "bigint":
      if (!walk.bigint) return `${path} is a bigint, which JSON cannot hold`;
      walk.raw = true;
      return undefined;
    case "object": {
      if (value === null) return undefined;
      const ancestors = walk.ancestors;
      if (ancestors.includes(value)) return `${path} refers back to itself (a cycle)`;
      if (typeof (value as { toJSON?: unknown }).toJSON === "function") return undefined;
      if (value instanceof Map || value instanceof Set) {
        return `${path} is a ${value.constructor.name}, which JSON turns into {}`;
      }
      ancestors.push(value);
      try {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) {
            const problem = check(value[i], `${path}[${i}]`, walk);
            if (problem) return problem;
          }
        } else {
          for (const [key, item] of Object.entries(value)) {
            if (item === undefined) continue; // an absent optional field
            const problem = check(item, `${path}.${key}`, walk);
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
  const problem = check(value, "value", { ancestors: [], bigint: false, raw: false });
  if (problem) throw new TypeError(`Cannot store ${what} as JSON: ${problem}`);
  return JSON.stringify(value);
}

/** `JSON.rawJSON` and the reviver's source text (ES2025+; V8 ships both, TypeScript's lib not yet). */
const json = JSON as unknown as {
  rawJSON(text: string): unknown;
  parse(
    text: string,
    reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
  ): unknown;
};

/**
 * Writes a bigint as its digits, and a number beyond ±(2^53 − 1) in exponent form, so that it
 * reads back as a number (and a Go float64), not as a bigint.
 */
function rawNumbers(this: unknown, key: string, value: unknown): unknown {
  // The holder's own value: a `BigInt.prototype.toJSON` added by the application does not apply.
  const original = (this as Record<string, unknown>)[key];
  if (typeof original === "bigint") return json.rawJSON(original.toString());
  if (
    typeof value === "number" &&
    (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER) && Number.isFinite(value)
  ) {
    return json.rawJSON(value.toExponential());
  }
  return value;
}

/**
 * Serializes a value of cache, once or mq to JSON: a bigint is an integer literal with all its
 * digits (`{"id":1234567890123456789}`, an int64 to Go), a number beyond ±(2^53 − 1) is written
 * in exponent form (so it never reads back as a bigint); every other value is `JSON.stringify`'s
 * text. Values JSON would change or drop are refused.
 *
 * @param value The value to store.
 * @param what What the value is, for the message (`the value of key 'k'`).
 * @returns The JSON text.
 * @throws {TypeError} Naming the offending path within the value.
 */
export function encodeValue(value: unknown, what: string): string {
  const walk: Walk = { ancestors: [], bigint: true, raw: false };
  const problem = check(value, "value", walk);
  if (problem) throw new TypeError(`Cannot store ${what} as JSON: ${problem}`);
  return walk.raw ? JSON.stringify(value, rawNumbers) : JSON.stringify(value);
}

/** 16 digits in a row: the shortest integer literal outside ±(2^53 − 1) has them. */
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

function reviveBigInt(_key: string, value: unknown, context: { source?: string }): unknown {
  if (
    typeof value === "number" &&
    (value > Number.MAX_SAFE_INTEGER || value < -Number.MAX_SAFE_INTEGER)
  ) {
    const source = context?.source;
    if (source !== undefined && INTEGER.test(source)) return BigInt(source);
  }
  return value;
}

/**
 * Parses JSON text of cache, once or mq: an integer literal outside ±(2^53 − 1), which a number
 * cannot hold exactly, becomes a bigint with all its digits; every other number stays a number.
 * Text without 16 digits in a row takes plain `JSON.parse`.
 *
 * @param text JSON text.
 * @returns The value.
 * @throws {SyntaxError} When the text is not JSON.
 */
export function decodeValue(text: string): unknown {
  return LONG_DIGITS.test(text) ? json.parse(text, reviveBigInt) : JSON.parse(text);
}

/** Turns values into stored text and back. */
export interface Serializer {
  /**
   * Encodes a value; throws a `TypeError` naming `what` when it cannot.
   *
   * @param value The value.
   * @param what What it is, for the message.
   */
  encode(value: unknown, what: string): string;
  /** Decodes stored text. */
  decode(text: string): unknown;
}

/**
 * `JSON.stringify` of a string. A short string with nothing to escape is its
 * content between quotes; a scan of it costs less than the native call.
 */
function quote(text: string): string {
  if (text.length > 64) return JSON.stringify(text);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // Control characters, '"', '\\' and (lone) surrogates are what JSON.stringify rewrites.
    if (code < 0x20 || code === 34 || code === 92 || (code >= 0xd800 && code <= 0xdfff)) {
      return JSON.stringify(text);
    }
  }
  return `"${text}"`;
}

/**
 * The default serializer of cache, once and mq: {@linkcode encodeValue} and
 * {@linkcode decodeValue}, with a shortcut for strings.
 */
export const jsonSerializer: Serializer = {
  encode: (value, what) => typeof value === "string" ? quote(value) : encodeValue(value, what),
  decode: (text) =>
    // A JSON string without escapes is its own content between the quotes: no parser needed.
    text.charCodeAt(0) === 34 && text.indexOf("\\") === -1 ? text.slice(1, -1) : decodeValue(text),
};

/**
 * The serializer a provider uses: {@linkcode jsonSerializer} when none is given, else the given
 * one with its output checked, as text that is not well-formed Unicode would reach Redis or Kafka
 * as U+FFFD (two values would read back as one).
 *
 * @param component The provider, for the message (`cache`).
 * @param serializer The `serializer` option.
 * @returns The serializer to use.
 * @throws {TypeError} When the option lacks `encode` or `decode` functions.
 */
export function serializerOption(
  component: string,
  serializer: Serializer | undefined,
): Serializer {
  if (serializer === undefined || serializer === jsonSerializer) return jsonSerializer;
  if (
    serializer === null || typeof serializer.encode !== "function" ||
    typeof serializer.decode !== "function"
  ) {
    throw new TypeError(
      `Cannot create ${component} as 'serializer' must have 'encode' and 'decode' functions`,
    );
  }
  return {
    encode: (value, what) => {
      const text = serializer.encode(value, what);
      if (typeof text !== "string" || !text.isWellFormed()) {
        throw new TypeError(
          `Cannot store ${what} as the serializer's output must be well-formed Unicode: current value is ${
            JSON.stringify(text)
          }`,
        );
      }
      return text;
    },
    decode: (text) => serializer.decode(text),
  };
}
