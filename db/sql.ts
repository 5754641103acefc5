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

  #renderInto(params: unknown[], parts: string[]): void {
    parts[parts.length - 1] += this.strings[0];
    for (let i = 0; i < this.values.length; i++) {
      const value = this.values[i];
      if (value instanceof SqlFragment) value.#renderInto(params, parts);
      else if (value instanceof Identifier) parts[parts.length - 1] += value.quoted;
      else if (value instanceof Deferred) parts[parts.length - 1] += value.resolve().quoted;
      else {
        if (value === undefined) this.#undefinedParameter(params.length);
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
    this.quoted = name.split(".").map((part) => `"${part.replaceAll('"', '""')}"`).join(".");
  }
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
