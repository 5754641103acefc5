/**
 * The naming rules of Prometheus (metric and label names) and the bucket
 * check, shared by the provider's config and each instrument's definition.
 *
 * @module
 */

/** What a metric name (prefix included) must match. */
export const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks histogram bucket bounds.
 *
 * @param what The action, for the message (`create metrics`).
 * @param buckets The bounds given.
 * @returns A copy of the bounds.
 * @throws {TypeError} Unless a non-empty list of increasing finite numbers.
 */
export function checkBuckets(what: string, buckets: unknown): readonly number[] {
  if (
    !Array.isArray(buckets) || buckets.length === 0 ||
    buckets.some((b, i) => typeof b !== "number" || !Number.isFinite(b) || b <= buckets[i - 1])
  ) {
    throw new TypeError(
      `Cannot ${what} as 'buckets' must be a non-empty list of increasing finite numbers: current value is ${
        JSON.stringify(buckets)
      }`,
    );
  }
  return [...buckets];
}

/**
 * Checks a label name.
 *
 * @param what The action, for the message.
 * @param label The name given.
 * @returns The name.
 * @throws {TypeError} Unless it matches `[a-zA-Z_][a-zA-Z0-9_]*` and does not start with `__`.
 */
export function checkLabelName(what: string, label: unknown): string {
  if (typeof label !== "string" || !LABEL_NAME.test(label) || label.startsWith("__")) {
    throw new TypeError(
      `Cannot ${what} as label name ${
        JSON.stringify(label)
      } must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'`,
    );
  }
  return label;
}
