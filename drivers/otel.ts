/**
 * The OpenTelemetry driver of metrics, over npm:@opentelemetry/api: every
 * instrument becomes an OTel instrument of the same name, labels become
 * attributes, and the SDK behind the API exports them. On Deno that SDK is
 * built in: run with `OTEL_DENO=true` and the usual `OTEL_EXPORTER_OTLP_*`
 * variables, and the metrics go out over OTLP.
 *
 * @example Cluster mode
 * ```ts ignore
 * import { metrics } from "@gochat/kit";
 * import { otelMetrics } from "@gochat/kit/drivers/otel";
 *
 * // OTEL_DENO=true OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 deno run -A main.ts
 * await using registry = await metrics.create(metrics.defaultConfig("production"), {
 *   driver: otelMetrics(),
 * });
 * ```
 *
 * @module
 */
import { metrics as otel } from "@opentelemetry/api";
import { checkConfig } from "../internal/config.ts";
import type { DriverSeries, InstrumentDescriptor, MetricsDriver } from "../metrics/driver.ts";

/** Attributes of a recording. */
export type OtelAttributes = Record<string, string>;

/** The part of an OpenTelemetry `Meter` the driver uses; a `Meter` from the API is one. */
export interface OtelMeter {
  /** A monotonic sum. */
  createCounter(
    name: string,
    options?: { description?: string },
  ): { add(value: number, attributes?: OtelAttributes): void };
  /** A synchronous gauge. */
  createGauge(
    name: string,
    options?: { description?: string },
  ): { record(value: number, attributes?: OtelAttributes): void };
  /** A histogram. */
  createHistogram(
    name: string,
    options?: { description?: string; advice?: { explicitBucketBoundaries?: number[] } },
  ): { record(value: number, attributes?: OtelAttributes): void };
}

/** Options of {@linkcode otelMetrics}. */
export interface OtelMetricsOptions {
  /** The meter to create instruments on; the global meter provider's by default. */
  readonly meter?: OtelMeter;
  /**
   * Name of the meter taken from the global provider (the instrumentation scope).
   * @default {"@gochat/kit"}
   */
  readonly meterName?: string;
}

const refuse = (what: string) => () => {
  throw new TypeError(`Cannot ${what}`);
};

class OtelMetricsDriver implements MetricsDriver {
  readonly name = "otel";
  readonly #meter: OtelMeter;

  constructor(options: OtelMetricsOptions) {
    this.#meter = options.meter ?? otel.getMeter(options.meterName ?? "@gochat/kit");
  }

  instrument(descriptor: InstrumentDescriptor): {
    series(values: readonly string[]): DriverSeries;
  } {
    const { name, help: description, labels } = descriptor;
    const attributes = (values: readonly string[]): OtelAttributes => {
      const result: OtelAttributes = {};
      labels.forEach((label, i) => (result[label] = values[i]));
      return result;
    };
    if (descriptor.type === "counter") {
      const counter = this.#meter.createCounter(name, { description });
      return {
        series: (values) => {
          const attrs = attributes(values);
          return {
            add: (value) => counter.add(value, attrs),
            set: refuse(`set counter '${name}'`),
            observe: refuse(`observe counter '${name}'`),
          };
        },
      };
    }
    if (descriptor.type === "gauge") {
      const gauge = this.#meter.createGauge(name, { description });
      return {
        series: (values) => {
          const attrs = attributes(values);
          // OTel gauges record absolute values: the series keeps its own for add/inc/dec.
          let current = 0;
          return {
            add: (value) => gauge.record(current += value, attrs),
            set: (value) => gauge.record(current = value, attrs),
            observe: refuse(`observe gauge '${name}'`),
          };
        },
      };
    }
    const histogram = this.#meter.createHistogram(name, {
      description,
      advice: { explicitBucketBoundaries: [...descriptor.buckets] },
    });
    return {
      series: (values) => {
        const attrs = attributes(values);
        return {
          add: refuse(`add to histogram '${name}'`),
          set: refuse(`set histogram '${name}'`),
          observe: (value) => histogram.record(value, attrs),
        };
      },
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Creates the OpenTelemetry metrics driver. `handler()` then answers 404: the SDK exports the
 * values (to an OTLP collector, or a Prometheus exporter of its own).
 *
 * @param options A meter, or the name of the global provider's meter to use.
 * @returns The driver.
 * @throws {TypeError} On an unknown option.
 */
export function otelMetrics(options: OtelMetricsOptions = {}): MetricsDriver {
  checkConfig("otelMetrics", options, ["meter", "meterName"], {
    argument: "options",
    noun: "option",
  });
  return new OtelMetricsDriver(options);
}

export { otelLogSink } from "./otel/log_sink.ts";
export type { OtelLoggerProvider, OtelLogRecord, OtelLogSinkOptions } from "./otel/log_sink.ts";
