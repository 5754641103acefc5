/**
 * Counters, gauges and histograms of one provider: each definition is checked
 * (name, help, labels, buckets), defined once in the driver, and returned again
 * when defined twice the same way; recording checks its value and finds the
 * series of its labels.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import { checkBuckets, checkLabelName, METRIC_NAME } from "./_util.ts";
import { seriesOf } from "./series.ts";
import type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  Counter,
  DriverSeries,
  Gauge,
  Histogram,
  HistogramOptions,
  InstrumentDescriptor,
  InstrumentOptions,
  Labels,
  MetricsDriver,
} from "./types.ts";

/** The provider's settings instruments use. */
export interface InstrumentSettings {
  /** Put before every instrument's name. */
  readonly prefix: string;
  /** Labels every series carries, rendered first. */
  readonly defaultLabels: Readonly<Record<string, string>>;
  /** Default histogram bucket bounds. */
  readonly buckets: readonly number[];
  /** Most label sets one instrument keeps. */
  readonly maxSeriesPerMetric: number;
}

/** The instrument factories of one provider. */
export interface Instruments {
  /** A counter; the same one again for the same definition. */
  counter<L extends string = never>(name: string, options: InstrumentOptions<L>): Counter<L>;
  /** A gauge; the same one again for the same definition. */
  gauge<L extends string = never>(name: string, options: InstrumentOptions<L>): Gauge<L>;
  /** A histogram; the same one again for the same definition. */
  histogram<L extends string = never>(name: string, options: HistogramOptions<L>): Histogram<L>;
}

/** An instrument definition, checked. */
interface Definition {
  /** Full name, the prefix included. */
  readonly name: string;
  /** `create {type} '{name}'`, for messages. */
  readonly what: string;
  readonly labels: readonly string[];
  /** Bucket bounds of a histogram, empty otherwise. */
  readonly buckets: readonly number[];
}

/** A definition seen before, or the parts of a new instrument. */
type Defined =
  | { readonly kind: "existing"; readonly instrument: unknown }
  | {
    readonly kind: "new";
    readonly name: string;
    readonly series: (given: Labels<string> | undefined) => DriverSeries;
    readonly remember: <T>(instrument: T) => T;
  };

/** Defines an instrument of `type`, or gives back the one defined the same way before. */
type Define = (
  type: InstrumentDescriptor["type"],
  rawName: string,
  options: HistogramOptions<string>,
) => Defined;

/**
 * The instrument factories of one provider.
 *
 * @param driver Where instruments are defined.
 * @param logger Where the warning about dropped label sets goes.
 * @param settings Prefix, default labels, buckets and the series bound.
 * @returns The factories.
 */
export function instruments(
  driver: MetricsDriver,
  logger: Logger,
  settings: InstrumentSettings,
): Instruments {
  const define = definer(driver, logger, settings);

  const counter = <L extends string>(rawName: string, options: InstrumentOptions<L>) => {
    const made = define("counter", rawName, options);
    if (made.kind === "existing") return made.instrument as Counter<L>;
    const { name, series } = made;
    const bound = (one: DriverSeries): BoundCounter => ({
      inc: () => one.add(1),
      add: (value) => one.add(finite(name, value, true)),
    });
    return made.remember(
      {
        inc: (labels?: Labels<L>) => series(labels).add(1),
        add: (value: number, labels?: Labels<L>) => series(labels).add(finite(name, value, true)),
        with: (labels: Labels<L>) => bound(series(labels)),
      } satisfies Counter<L>,
    ) as Counter<L>;
  };

  const gauge = <L extends string>(rawName: string, options: InstrumentOptions<L>) => {
    const made = define("gauge", rawName, options);
    if (made.kind === "existing") return made.instrument as Gauge<L>;
    const { name, series } = made;
    const bound = (one: DriverSeries): BoundGauge => ({
      set: (value) => one.set(finite(name, value, false)),
      add: (value) => one.add(finite(name, value, false)),
      inc: () => one.add(1),
      dec: () => one.add(-1),
    });
    return made.remember(
      {
        set: (value: number, labels?: Labels<L>) => series(labels).set(finite(name, value, false)),
        add: (value: number, labels?: Labels<L>) => series(labels).add(finite(name, value, false)),
        inc: (labels?: Labels<L>) => series(labels).add(1),
        dec: (labels?: Labels<L>) => series(labels).add(-1),
        with: (labels: Labels<L>) => bound(series(labels)),
      } satisfies Gauge<L>,
    ) as Gauge<L>;
  };

  const histogram = <L extends string>(rawName: string, options: HistogramOptions<L>) => {
    const made = define("histogram", rawName, options);
    if (made.kind === "existing") return made.instrument as Histogram<L>;
    const { name, series } = made;
    const bound = (one: DriverSeries): BoundHistogram => ({
      observe: (value) => one.observe(finite(name, value, false)),
      startTimer: timer(one),
    });
    return made.remember(
      {
        observe: (value: number, labels?: Labels<L>) =>
          series(labels).observe(finite(name, value, false)),
        startTimer: (labels?: Labels<L>) => timer(series(labels))(),
        with: (labels: Labels<L>) => bound(series(labels)),
      } satisfies Histogram<L>,
    ) as Histogram<L>;
  };

  return { counter, gauge, histogram };
}

/**
 * Defines instruments in the driver, once per name: a definition is checked, one seen before
 * with the same type, help, labels and buckets gives the instrument back, another is refused.
 */
function definer(
  driver: MetricsDriver,
  logger: Logger,
  settings: InstrumentSettings,
): Define {
  const defaultNames = Object.keys(settings.defaultLabels);
  const defaultValues = Object.values(settings.defaultLabels);
  const defined = new Map<string, { key: string; instrument: unknown }>();

  return (type, rawName, options) => {
    const { name, what, labels, buckets } = checkDefinition(
      type,
      rawName,
      options,
      settings,
      defaultNames,
    );
    const key = JSON.stringify([type, options.help, labels, buckets]);
    const existing = defined.get(name);
    if (existing) {
      if (existing.key !== key) {
        throw new TypeError(
          `Cannot ${what} as '${name}' already exists with another type, help, labels or buckets`,
        );
      }
      return { kind: "existing", instrument: existing.instrument };
    }
    const storage = driver.instrument({
      name,
      type,
      help: options.help,
      labels: [...defaultNames, ...labels],
      buckets,
    });
    const series = seriesOf(storage, {
      name,
      labels,
      defaultValues,
      maxSeries: settings.maxSeriesPerMetric,
      logger,
    });
    const remember = <T>(instrument: T): T => {
      defined.set(name, { key, instrument });
      return instrument;
    };
    return { kind: "new", name, series, remember };
  };
}

/** Checks an instrument's name, help, labels and buckets, in that order. */
function checkDefinition(
  type: InstrumentDescriptor["type"],
  rawName: string,
  options: HistogramOptions<string>,
  settings: InstrumentSettings,
  defaultNames: readonly string[],
): Definition {
  const name = `${settings.prefix}${rawName}`;
  const what = `create ${type} '${name}'`;
  if (typeof rawName !== "string" || !METRIC_NAME.test(name)) {
    throw new TypeError(
      `Cannot create ${type} as its name must match [a-zA-Z_:][a-zA-Z0-9_:]*: current value is ${
        JSON.stringify(name)
      }`,
    );
  }
  if (options === null || typeof options !== "object" || typeof options.help !== "string") {
    throw new TypeError(`Cannot ${what} as 'help' must be a string`);
  }
  const labels = options.labels ?? [];
  if (!Array.isArray(labels)) {
    throw new TypeError(`Cannot ${what} as 'labels' must be a list of label names`);
  }
  if (type === "histogram" && defaultNames.includes("le")) {
    throw new TypeError(
      `Cannot ${what} as the default label 'le' is the bucket label of histograms`,
    );
  }
  const seen = new Set(defaultNames);
  for (const label of labels) {
    checkLabelName(what, label);
    if (type === "histogram" && label === "le") {
      throw new TypeError(`Cannot ${what} as 'le' is the bucket label of histograms`);
    }
    if (seen.has(label)) {
      throw new TypeError(
        `Cannot ${what} as label '${label}' appears twice (default labels included)`,
      );
    }
    seen.add(label);
  }
  const buckets = type === "histogram"
    ? checkBuckets(what, options.buckets ?? settings.buckets)
    : [];
  return { name, what, labels, buckets };
}

/** The value, if finite (and non-negative for a counter). */
function finite(name: string, value: unknown, counter: boolean): number {
  if (typeof value !== "number" || !Number.isFinite(value) || (counter && value < 0)) {
    throw new RangeError(
      `Cannot record '${name}' as the value must be a finite${
        counter ? ", non-negative" : ""
      } number: current value is ${value}`,
    );
  }
  return value;
}

/** `startTimer` of a series: the returned function observes the seconds elapsed. */
function timer(series: DriverSeries): () => () => number {
  return () => {
    const started = performance.now();
    return () => {
      const seconds = (performance.now() - started) / 1000;
      series.observe(seconds);
      return seconds;
    };
  };
}
