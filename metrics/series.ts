/**
 * Label objects to driver series, for one instrument: a label set is checked
 * whole the first time it is seen, then found again through one Map level per
 * label, so recording builds no key string. Beyond `maxSeriesPerMetric` label
 * sets, new ones record nothing and one warning is logged, so an unbounded label
 * cannot exhaust memory.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { DriverSeries, Labels, MetricsDriver } from "./types.ts";

/** A series that records nothing: what label sets beyond `maxSeriesPerMetric` get. */
const DROPPED: DriverSeries = { add() {}, set() {}, observe() {} };

/** The driver's storage of one instrument. */
export type InstrumentStorage = ReturnType<MetricsDriver["instrument"]>;

/** What {@linkcode seriesOf} needs to know of the instrument. */
export interface SeriesOptions {
  /** Full name of the instrument, for messages. */
  readonly name: string;
  /** Its declared labels, in order. */
  readonly labels: readonly string[];
  /** Values of the provider's default labels, put before the declared ones. */
  readonly defaultValues: readonly string[];
  /** Most label sets kept. */
  readonly maxSeries: number;
  /** Where the warning about dropped label sets goes. */
  readonly logger: Logger;
}

/**
 * The label handling of one instrument.
 *
 * @param storage The driver's storage of the instrument.
 * @param options Name, labels, default label values and the bound.
 * @returns The series of a label object.
 * @throws {TypeError} (from the returned function) When a declared label is missing, an
 * undeclared one is given, or labels are given to an instrument without any.
 */
export function seriesOf(
  storage: InstrumentStorage,
  options: SeriesOptions,
): (given: Labels<string> | undefined) => DriverSeries {
  const { name, labels, defaultValues } = options;
  /** Series by label value, one Map level per label: no key string is built per record. */
  const root = new Map<string, unknown>();
  let count = 0;
  let warned = false;
  const valueOf = (given: Labels<string>, label: string): string => {
    const value = given[label];
    if (typeof value === "string") return value;
    if (value === undefined) {
      throw new TypeError(`Cannot record '${name}' as label '${label}' is missing`);
    }
    return String(value);
  };
  /** A label set seen for the first time: checked whole, then stored if within the bound. */
  const insert = (given: Labels<string>): DriverSeries => {
    const values = labels.map((label) => valueOf(given, label));
    const extra = Object.keys(given).find((label) => !labels.includes(label));
    if (extra !== undefined) {
      throw new TypeError(
        `Cannot record '${name}' as label '${extra}' is not declared (declared: ${
          labels.join(", ")
        })`,
      );
    }
    if (count >= options.maxSeries) {
      if (!warned) {
        warned = true;
        options.logger.warn("metric has too many label sets; new ones are dropped", {
          metric: name,
          max: options.maxSeries,
        });
      }
      return DROPPED;
    }
    const created = storage.series([...defaultValues, ...values]);
    count++;
    let node = root;
    for (let i = 0; i < values.length - 1; i++) {
      let next = node.get(values[i]) as Map<string, unknown> | undefined;
      if (next === undefined) node.set(values[i], next = new Map());
      node = next;
    }
    node.set(values[values.length - 1], created);
    return created;
  };
  let unlabelled: DriverSeries | undefined;
  return (given) => {
    if (labels.length === 0) {
      if (given !== undefined && Object.keys(given).length > 0) {
        throw new TypeError(`Cannot record '${name}' with labels: it declares none`);
      }
      return unlabelled ??= storage.series(defaultValues);
    }
    if (given === null || typeof given !== "object") {
      throw new TypeError(`Cannot record '${name}' without its labels: ${labels.join(", ")}`);
    }
    let keys = 0;
    for (const _ in given) keys++;
    if (keys !== labels.length) return insert(given); // reports the missing or extra label
    let node: unknown = root;
    for (let i = 0; i < labels.length; i++) {
      node = (node as Map<string, unknown>).get(valueOf(given, labels[i]));
      if (node === undefined) return insert(given);
    }
    return node as DriverSeries;
  };
}
