/**
 * The standalone metrics driver: values kept in process memory and rendered
 * in the Prometheus text exposition format (version 0.0.4), for a
 * `/metrics` endpoint that Prometheus scrapes.
 *
 * @module
 */
import type { DriverSeries, InstrumentDescriptor, MetricsDriver } from "./types.ts";

/** `# HELP` text: backslash and newline escaped. */
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

/** A label value: backslash, double quote and newline escaped. */
function escapeLabel(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

/** A sample value as Prometheus reads it. */
function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

class ValueSeries implements DriverSeries {
  value = 0;
  constructor(readonly labels: string) {}
  add(value: number): void {
    this.value += value;
  }
  set(value: number): void {
    this.value = value;
  }
  observe(): void {
    throw new TypeError("Cannot observe a counter or gauge");
  }
}

class HistogramSeries implements DriverSeries {
  /** Observations per bucket, not cumulative; the last one is `+Inf`. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly labels: string, readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  add(): void {
    throw new TypeError("Cannot add to a histogram");
  }
  set(): void {
    throw new TypeError("Cannot set a histogram");
  }
  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

interface Stored {
  readonly descriptor: InstrumentDescriptor;
  readonly series: Map<string, ValueSeries | HistogramSeries>;
}

/** The memory driver: keeps every series and renders them for Prometheus. */
export class MemoryMetricsDriver implements MetricsDriver {
  readonly name = "memory";
  readonly #instruments: Stored[] = [];

  /** @internal */
  instrument(
    descriptor: InstrumentDescriptor,
  ): { series(values: readonly string[]): DriverSeries } {
    const stored: Stored = { descriptor, series: new Map() };
    this.#instruments.push(stored);
    const names = descriptor.labels;
    return {
      series: (values) => {
        const key = values.join("\u0000");
        let series = stored.series.get(key);
        if (series === undefined) {
          const labels = names.map((name, i) => `${name}="${escapeLabel(values[i])}"`).join(",");
          series = descriptor.type === "histogram"
            ? new HistogramSeries(labels, descriptor.buckets)
            : new ValueSeries(labels);
          stored.series.set(key, series);
        }
        return series;
      },
    };
  }

  /**
   * Everything recorded, in the Prometheus text format 0.0.4: instruments in the order they were
   * created, series in the order they were first recorded.
   *
   * @returns The exposition, ending with a newline.
   */
  render(): string {
    const lines: string[] = [];
    for (const { descriptor, series } of this.#instruments) {
      const { name, type } = descriptor;
      lines.push(`# HELP ${name} ${escapeHelp(descriptor.help)}`, `# TYPE ${name} ${type}`);
      for (const one of series.values()) {
        if (one instanceof ValueSeries) {
          lines.push(`${name}${one.labels ? `{${one.labels}}` : ""} ${formatValue(one.value)}`);
          continue;
        }
        const prefix = one.labels ? `${one.labels},` : "";
        let cumulative = 0;
        for (let i = 0; i < one.counts.length; i++) {
          cumulative += one.counts[i];
          const le = i < one.bounds.length ? formatValue(one.bounds[i]) : "+Inf";
          lines.push(`${name}_bucket{${prefix}le="${le}"} ${cumulative}`);
        }
        const braces = one.labels ? `{${one.labels}}` : "";
        lines.push(
          `${name}_sum${braces} ${formatValue(one.sum)}`,
          `${name}_count${braces} ${one.count}`,
        );
      }
    }
    return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Creates the memory metrics driver, the standalone default.
 *
 * @returns The driver.
 */
export function memoryMetrics(): MemoryMetricsDriver {
  return new MemoryMetricsDriver();
}
