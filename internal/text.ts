/**
 * Checks of text that becomes a key or stored text on a backend.
 *
 * @module
 */

/**
 * Why `value` cannot be stored as text, if it cannot: a lone surrogate is not Unicode, and Redis,
 * etcd and PostgreSQL all store it as U+FFFD, so two different strings would become one.
 *
 * @param action What was being done, for the message (`set cache key`).
 * @param name The argument's name, for the message.
 * @param value The string.
 * @returns A `TypeError` naming the problem, or undefined when the string is well formed.
 */
export function malformedText(action: string, name: string, value: string): TypeError | undefined {
  return value.isWellFormed() ? undefined : new TypeError(
    `Cannot ${action} as '${name}' must be well-formed Unicode: current value is ${
      JSON.stringify(value)
    }`,
  );
}
