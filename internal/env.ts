/**
 * The environment names every component's `defaultConfig(env)` accepts.
 *
 * @module
 */

/** An environment a default configuration exists for. */
export type Env = "development" | "production";

/**
 * Checks the argument of a component's `defaultConfig`.
 *
 * @param component The component, for the message.
 * @param env The value given.
 * @returns The value, typed.
 * @throws {RangeError} For any other value.
 */
export function requireEnv(component: string, env: unknown): Env {
  if (env !== "development" && env !== "production") {
    throw new RangeError(
      `Cannot build ${component} config as 'env' must be "development" or "production": current value is ${
        JSON.stringify(env)
      }`,
    );
  }
  return env;
}
