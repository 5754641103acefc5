/**
 * `keyPrefix`, the one name of a provider's namespace on a shared backend, and its one rule: a
 * provider that keeps its service's own state (cache, once, ratelimit, es) on a backend other
 * services can reach must be given one, so two services on one Redis never share keys by
 * accident. `""` shares the whole keyspace on purpose.
 *
 * @module
 */

/**
 * The `keyPrefix` of a provider of service-owned state: the given one, `""` on an in-process
 * (memory) driver, or a refusal naming the fix.
 *
 * @param component The provider (`cache`), for the message.
 * @param keyPrefix The config's `keyPrefix`.
 * @param driverName The driver's `name`; `memory` lives in this process and needs no prefix.
 * @param example A prefix that fits this component's backend, for the message.
 * @returns The prefix to use.
 * @throws {TypeError} When it is missing on a shared backend or not a well-formed string.
 */
export function ownKeyPrefix(
  component: string,
  keyPrefix: unknown,
  driverName: string,
  example = "im-logic:",
): string {
  if (keyPrefix === undefined) {
    if (driverName === "memory") return "";
    throw new TypeError(
      `Cannot create ${component} on the ${driverName} driver without 'keyPrefix': services sharing one backend would read and overwrite each other's keys. Set it to the service's name ("${example}"; env.read().keyPrefix gives one from OTEL_SERVICE_NAME), or to "" to share the keyspace on purpose`,
    );
  }
  return sharedKeyPrefix(component, keyPrefix);
}

/**
 * The `keyPrefix` of a provider of state that services share by design (mq topics, the coord
 * registry and config center): `""` when not given.
 *
 * @param component The provider, for the message.
 * @param keyPrefix The config's `keyPrefix`.
 * @returns The prefix to use.
 * @throws {TypeError} When it is not a well-formed string.
 */
export function sharedKeyPrefix(component: string, keyPrefix: unknown): string {
  if (keyPrefix === undefined) return "";
  if (typeof keyPrefix !== "string" || !keyPrefix.isWellFormed()) {
    throw new TypeError(
      `Cannot create ${component} as 'keyPrefix' must be a well-formed Unicode string: current value is ${
        typeof keyPrefix === "string" ? JSON.stringify(keyPrefix) : String(keyPrefix)
      }`,
    );
  }
  return keyPrefix;
}

/**
 * The `keyPrefix` a driver is given by its provider, refusing a second, different one: a driver
 * serves one provider.
 *
 * @param driver The driver's factory name, for the message.
 * @param current The prefix it has, if any.
 * @param next The prefix given now.
 * @returns `next`.
 * @throws {TypeError} When the driver already serves another prefix.
 */
export function bindKeyPrefix(driver: string, current: string | undefined, next: string): string {
  if (current !== undefined && current !== next) {
    throw new TypeError(
      `Cannot use the ${driver} driver under keyPrefix ${JSON.stringify(next)} as it serves ${
        JSON.stringify(current)
      } already: give each provider a driver of its own`,
    );
  }
  return next;
}
