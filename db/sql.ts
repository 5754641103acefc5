/**
 * The `sql` tagged template: interpolated values become bound parameters
 * (`$1`, `$2`, …), never text. Queries nest as fragments; identifiers go
 * through {@linkcode identifier}, which quotes them.
 *
 * @module
 */

/** A piece of SQL text with its parameters, before numbering. */
export class SqlFragment {
  /** The literal parts around the values. */
  readonly strings: readonly string[];
  /** The interpolated values (parameters, fragments or identifiers). */
  readonly values: readonly unknown[];

  /**
   * Creates a fragment; use the `sql` tag instead.
   *
   * @param strings Literal parts.
   * @param values Interpolated values.
   */
  constructor(strings: readonly string[], values: readonly unknown[]) {
    this.strings = strings;
    this.values = values;
  }

  /**
   * Renders to text with numbered placeholders.
   *
   * @returns The text, the parameters in order, and the literal parts between the parameters.
   * @throws {TypeError} On an `undefined` value (almost always a bug; pass null for NULL).
   */
  render(): { text: string; params: unknown[]; parts: readonly string[] } {
    // The common case, only plain values: the parts are the template's own strings (one array per
    // call site, which drivers can key caches on) and the text is computed once per call site.
    const values = this.values;
    let plain = true;
    for (let i = 0; i < values.length && plain; i++) {
      const value = values[i];
      if (value === undefined) this.#undefinedParameter(i);
      if (typeof value === "string" && !value.isWellFormed()) this.#malformedParameter(i, value);
      plain = typeof value !== "object" || value === null || isPlain(value);
    }
    if (plain) {
      let text = plainTexts.get(this.strings);
      if (text === undefined) {
        text = this.strings[0];
        for (let i = 1; i < this.strings.length; i++) text += `$${i}` + this.strings[i];
        plainTexts.set(this.strings, text);
      }
      // The values array is this fragment's own (the tag's rest parameter); drivers only read it.
      return { text, params: values as unknown[], parts: this.strings };
    }
    const params: unknown[] = [];
    const parts = [""];
    this.#renderInto(params, parts);
    let text = parts[0];
    for (let i = 1; i < parts.length; i++) text += `$${i}` + parts[i];
    return { text, params, parts };
  }

  #undefinedParameter(index: number): never {
    throw new TypeError(
      `Cannot build SQL as parameter $${index + 1} is undefined (pass null for NULL): ${
        this.strings.join("$?").slice(0, 120)
      }`,
    );
  }

  #malformedParameter(index: number, value: string): never {
    throw new TypeError(
      `Cannot build SQL as parameter $${
        index + 1
      } is not well-formed Unicode (a lone surrogate at index ${
        loneSurrogateAt(value)
      }), which PostgreSQL would store as U+FFFD: ${this.strings.join("$?").slice(0, 120)}`,
    );
  }

  #renderInto(params: unknown[], parts: string[]): void {
    parts[parts.length - 1] += this.strings[0];
    for (let i = 0; i < this.values.length; i++) {
      const value = this.values[i];
      if (value instanceof SqlFragment) value.#renderInto(params, parts);
      else if (value instanceof Identifier) parts[parts.length - 1] += value.quoted;
      else if (value instanceof Deferred) parts[parts.length - 1] += value.resolve().quoted;
      else {
        if (value === undefined) this.#undefinedParameter(params.length);
        if (typeof value === "string" && !value.isWellFormed()) {
          this.#malformedParameter(params.length, value);
        }
        params.push(value);
        parts.push("");
      }
      parts[parts.length - 1] += this.strings[i + 1];
    }
  }
}

/** Rendered text of fragments whose values are all plain parameters, by template strings. */
const plainTexts = new WeakMap<readonly string[], string>();

function isPlain(value: unknown): boolean {
  return !(value instanceof SqlFragment || value instanceof Identifier ||
    value instanceof Deferred);
}

/** A quoted SQL identifier (table or column name). */
export class Identifier {
  /** The identifier, double-quoted with inner quotes doubled. */
  readonly quoted: string;

  /**
   * Creates an identifier; use {@linkcode identifier} instead.
   *
   * @param name The unquoted name; a dot separates schema and table.
   */
  constructor(name: string) {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(
        `Cannot use identifier as 'name' must be a non-empty string: current value is ${
          JSON.stringify(name)
        }`,
      );
    }
    const parts = name.split(".");
    for (const part of parts) checkIdentifierPart(name, part);
    this.quoted = parts.map((part) => `"${part.replaceAll('"', '""')}"`).join(".");
  }
}

/** PostgreSQL's NAMEDATALEN - 1: longer names are cut to this many bytes, silently but for a notice. */
export const MAX_IDENTIFIER_BYTES = 63;

/** Refuses a part of a dotted name that PostgreSQL would reject, or truncate into another name. */
function checkIdentifierPart(name: string, part: string): void {
  const problem = part.length === 0
    ? "has an empty part"
    : !part.isWellFormed()
    ? "is not well-formed Unicode"
    : part.includes("\0")
    ? "contains a NUL character"
    : utf8Length(part) > MAX_IDENTIFIER_BYTES
    ? `has a part of ${
      utf8Length(part)
    } UTF-8 bytes, and PostgreSQL truncates names longer than ${MAX_IDENTIFIER_BYTES}`
    : undefined;
  if (problem) {
    throw new RangeError(
      `Cannot use identifier as 'name' ${problem}: current value is ${JSON.stringify(name)}`,
    );
  }
}

/** The length of `text` in UTF-8 bytes, without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0x80) bytes += unit < 0x800 || (unit >= 0xd800 && unit < 0xe000) ? 1 : 2;
  }
  return bytes;
}

/** Index of the first lone surrogate in `text`, or -1. */
function loneSurrogateAt(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit < 0xdc00) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) i++;
      else return i;
    } else if (unit >= 0xdc00 && unit < 0xe000) return i;
  }
  return -1;
}

/** A value that becomes an identifier only when rendered, and may refuse (a sharded table without its key). */
export class Deferred {
  /** Produces the identifier or throws. */
  readonly resolve: () => Identifier;

  /**
   * Creates the deferred identifier.
   *
   * @param resolve Produces the identifier or throws why it cannot.
   */
  constructor(resolve: () => Identifier) {
    this.resolve = resolve;
  }
}

/**
 * A quoted identifier for the `sql` tag: `sql\`select * from ${identifier("orders")}\``.
 *
 * @param name Table or column name; `schema.table` is quoted per part.
 * @returns The identifier.
 * @throws {TypeError} On an empty name.
 *
 * @example
 * ```ts
 * import { identifier, SqlFragment } from "./sql.ts";
 * import assert from "node:assert/strict";
 *
 * const query = new SqlFragment(["select * from ", " where id = ", ""], [identifier("app.users"), 7]);
 * const { text, params } = query.render();
 * assert.equal(text, 'select * from "app"."users" where id = $1');
 * assert.deepEqual(params, [7]);
 * ```
 */
export function identifier(name: string): Identifier {
  return new Identifier(name);
}

/**
 * Builds a fragment without running it, for composing queries.
 *
 * @param strings Template strings.
 * @param values Interpolated values.
 * @returns The fragment.
 */
export function fragment(strings: TemplateStringsArray, ...values: unknown[]): SqlFragment {
  return new SqlFragment([...strings], values);
}

/**
 * Converts parameters to what every driver binds the same way: bigint as text
 * (the server casts it); everything else as is (objects go to json columns as JSON).
 *
 * @param params The parameters of a rendered query.
 * @returns The converted parameters.
 */
export function normalizeParams(params: readonly unknown[]): unknown[] {
  if (params.length === 0) return params as unknown[];
  return params.map((value) => typeof value === "bigint" ? value.toString() : value);
}
