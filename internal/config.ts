/**
 * The one check of a config or options object's keys that every component's `create` and every
 * driver factory runs, so a misspelt or misplaced setting fails loudly instead of being ignored.
 *
 * @module
 */

/** What the checked object is, for the message. */
export interface CheckConfigOptions {
  /** The verb of the message (`create`, `init`). @default {"create"} */
  readonly action?: string;
  /** The checked argument's name (`config`, `options`). @default {"config"} */
  readonly argument?: string;
  /** What one key is called (`config key`, `option`). @default {"config key"} */
  readonly noun?: string;
  /** A hint per known mistake, added to the message (`{ ssl: "use 'tls'" }`). */
  readonly hints?: Readonly<Record<string, string>>;
}

/**
 * Refuses a config that is not an object or that holds a key outside `allowedKeys`, naming every
 * such key and listing the allowed ones.
 *
 * @param component What is being made (`cache`, `redisCache`), for the message; empty when the
 * action says it all (`retry`).
 * @param config The object to check.
 * @param allowedKeys Every key the object may hold.
 * @param options Verb, noun and hints of the message.
 * @throws {TypeError} When `config` is not an object or holds an unknown key.
 */
export function checkConfig(
  component: string,
  config: unknown,
  allowedKeys: readonly string[],
  options: CheckConfigOptions = {},
): void {
  const { action = "create", argument = "config", noun = "config key", hints = {} } = options;
  const what = component === "" ? action : `${action} ${component}`;
  if (config === null || typeof config !== "object" || Array.isArray(config)) {
    throw new TypeError(
      `Cannot ${what} as '${argument}' must be an object: current value is ${
        Array.isArray(config) ? "an array" : String(config)
      }`,
    );
  }
  const unknown = Object.keys(config).filter((key) => !allowedKeys.includes(key));
  if (unknown.length === 0) return;
  const names = unknown.map((key) => `'${key}'`).join(", ");
  const hinted = unknown.filter((key) => Object.hasOwn(hints, key))
    .map((key) => `; for '${key}', ${hints[key]}`).join("");
  throw new TypeError(
    `Cannot ${what} as ${names} ${
      unknown.length === 1
        ? `is not ${/^[aeiou]/.test(noun) ? "an" : "a"} ${noun}`
        : `are not ${noun}s`
    } (allowed: ${allowedKeys.join(", ")})${hinted}`,
  );
}
