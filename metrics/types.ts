/**
 * Instruments and the driver interface of metrics. Instruments are what
 * application code and the kit's providers record into; a driver stores or
 * forwards what they record (the memory registry renders Prometheus text).
 *
 * @module
 */

/** Label values by label name; every label the instrument declares must be given. */
export type Labels<L extends string> = { readonly [K in L]: string | number | boolean };

/** Options of a counter or gauge. */
export interface InstrumentOptions<L extends string> {
  /** What it measures, for `# HELP`. */
  readonly help: string;
  /**
   * Label names, in the order they are rendered; every record gives a value for each.
   * @default {[]}
   */
  readonly labels?: readonly L[];
}

/** Options of a histogram. */
export interface HistogramOptions<L extends string> extends InstrumentOptions<L> {
  /**
   * Upper bounds of the buckets, increasing; `+Inf` is added.
   * @default {the provider's `buckets`}
   */
  readonly buckets?: readonly number[];
}

/** A counter with its labels bound. */
export interface BoundCounter {
  /** Adds 1. */
  inc(): void;
  /**
   * Adds `value`.
   *
   * @throws {RangeError} When negative or not finite: a counter only goes up.
   */
  add(value: number): void;
}

/** A value that only goes up (requests served, bytes sent), per label set. */
export interface Counter<L extends string = never> {
  /** Adds 1 to the series of `labels`. */
  inc(labels?: Labels<L>): void;
  /**
   * Adds `value` to the series of `labels`.
   *
   * @throws {RangeError} When negative or not finite.
   */
  add(value: number, labels?: Labels<L>): void;
  /** The series of `labels`, resolved once: the fastest way to record in a hot path. */
  with(labels: Labels<L>): BoundCounter;
}

/** A gauge with its labels bound. */
export interface BoundGauge {
  /** Sets the value. */
  set(value: number): void;
  /** Adds `value` (negative to subtract). */
  add(value: number): void;
  /** Adds 1. */
  inc(): void;
  /** Subtracts 1. */
  dec(): void;
}

/** A value that goes up and down (connections open, queue depth), per label set. */
export interface Gauge<L extends string = never> {
  /** Sets the series of `labels` to `value`. */
  set(value: number, labels?: Labels<L>): void;
  /** Adds `value` to the series of `labels`. */
  add(value: number, labels?: Labels<L>): void;
  /** Adds 1. */
  inc(labels?: Labels<L>): void;
  /** Subtracts 1. */
  dec(labels?: Labels<L>): void;
  /** The series of `labels`, resolved once. */
  with(labels: Labels<L>): BoundGauge;
}

/** A histogram with its labels bound. */
export interface BoundHistogram {
  /** Records one observation. */
  observe(value: number): void;
  /** Starts a timer; calling the result records the seconds elapsed and returns them. */
  startTimer(): () => number;
}

/** A distribution of observations (latencies, sizes) in buckets, per label set. */
export interface Histogram<L extends string = never> {
  /** Records one observation in the series of `labels`. */
  observe(value: number, labels?: Labels<L>): void;
  /** Starts a timer; calling the result records the seconds elapsed and returns them. */
  startTimer(labels?: Labels<L>): () => number;
  /** The series of `labels`, resolved once. */
  with(labels: Labels<L>): BoundHistogram;
}

/** What a driver is told about an instrument when it is created. */
export interface InstrumentDescriptor {
  /** Full name, the provider's prefix included. */
  readonly name: string;
  /** `counter`, `gauge` or `histogram`. */
  readonly type: "counter" | "gauge" | "histogram";
  /** For `# HELP`. */
  readonly help: string;
  /** Label names, in order. */
  readonly labels: readonly string[];
  /** Histogram bucket bounds, increasing, without `+Inf`. */
  readonly buckets: readonly number[];
}

/** One series of an instrument (one label set) in a driver. */
export interface DriverSeries {
  /** Counters and gauges: adds `value`. */
  add(value: number): void;
  /** Gauges: sets the value. */
  set(value: number): void;
  /** Histograms: records an observation. */
  observe(value: number): void;
}

/** A metrics backend: stores or forwards what instruments record. */
export interface MetricsDriver {
  /** Name for errors and logs: `memory`, `otel`. */
  readonly name: string;
  /** Creates the storage of one instrument; the provider has checked the descriptor. */
  instrument(descriptor: InstrumentDescriptor): {
    /** The series of one label set, values in the descriptor's label order. */
    series(values: readonly string[]): DriverSeries;
  };
  /** The Prometheus text exposition of everything recorded, when the driver keeps values. */
  render?(): string;
  /** Stops exporting. */
  close(): Promise<void>;
}
