/**
 * metrics: counters, gauges and histograms with labels, an HTTP middleware for
 * `Deno.serve` handlers, and a `/metrics` endpoint in the Prometheus text
 * format. The memory driver (the default) keeps the values and renders them
 * for Prometheus to scrape.
 *
 * @example Counting requests and serving /metrics
 * ```ts
 * import { metrics } from "../mod.ts";
 * import assert from "node:assert/strict";
 *
 * await using registry = await metrics.create({
 *   ...metrics.defaultConfig("development"),
 *   defaultLabels: { service: "im-gateway" },
 * });
 * const sent = registry.counter("messages_sent_total", {
 *   help: "Messages sent, by channel.",
 *   labels: ["channel"],
 * });
 * sent.inc({ channel: "push" });
 * sent.add(2, { channel: "sms" });
 * const text = await registry.handler()(new Request("http://x/metrics")).text();
 * assert.match(text, /messages_sent_total\{service="im-gateway",channel="sms"\} 2/);
 * ```
 *
 * @module
 */
import { type Logger, namespace } from "../clog/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { requireEnv } from "../internal/env.ts";
import type { Middleware } from "../http/middleware.ts";
import type { ServeHandler } from "../http/serve.ts";
import { checkBuckets, checkLabelName, METRIC_NAME } from "./_util.ts";
import { httpMetrics, type HttpMetricsOptions } from "./http.ts";
import { instruments } from "./instruments.ts";
import { runtimeMetrics } from "./runtime.ts";
import { memoryMetrics } from "./memory.ts";
import { prometheusHandler } from "./prometheus.ts";
import type {
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  InstrumentOptions,
  MetricsDriver,
} from "./types.ts";

export type { HttpMetricsOptions } from "./http.ts";
export { memoryMetrics, MemoryMetricsDriver } from "./memory.ts";
export type { Exchange, Middleware, Next } from "../http/middleware.ts";
export type { ServeHandler } from "../http/serve.ts";
export type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  Counter,
  Gauge,
  Histogram,
  HistogramOptions,
  InstrumentOptions,
  Labels,
} from "./types.ts";

/** Static settings of a metrics provider. */
export interface MetricsConfig {
  /** Put before every instrument's name (`im_gateway_`). */
  readonly prefix: string;
  /** Labels every series carries (`{ service: "im-gateway" }`), rendered first. */
  readonly defaultLabels: Readonly<Record<string, string>>;
  /** Default histogram bucket bounds, in seconds for durations. */
  readonly buckets: readonly number[];
  /**
   * Most label sets one instrument keeps; beyond it new label sets are dropped and a warning
   * is logged once, so an unbounded label (a user id, a raw path) cannot exhaust memory.
   */
  readonly maxSeriesPerMetric: number;
  /**
   * Record the runtime's metrics (CPU, memory, heap, event-loop lag, open file descriptors; see
   * `metrics/runtime.ts`), sampled at each render and every `runtimeMetricsIntervalMs`.
   * @default {true}
   */
  readonly runtimeMetrics?: boolean;
  /**
   * How often runtime metrics are sampled between renders (for push exporters).
   * @default {10000}
   */
  readonly runtimeMetricsIntervalMs?: number;
}

/** Dependencies of a metrics provider. */
export interface CreateOptions {
  /** The backend; `memoryMetrics()` by default. The provider closes it. */
  readonly driver?: MetricsDriver;
  /** Logger; `clog.namespace("metrics")` by default. */
  readonly logger?: Logger;
}

/** A metrics provider. */
export interface Metrics extends AsyncDisposable {
  /** Name of the driver in use. */
  readonly driver: string;
  /**
   * A counter. Creating one twice with the same definition returns the same counter.
   *
   * @throws {TypeError} On a bad name or label name, or a name already used differently.
   */
  counter<L extends string = never>(name: string, options: InstrumentOptions<L>): Counter<L>;
  /** A gauge; see {@linkcode Metrics.counter}. */
  gauge<L extends string = never>(name: string, options: InstrumentOptions<L>): Gauge<L>;
  /** A histogram; see {@linkcode Metrics.counter}. */
  histogram<L extends string = never>(name: string, options: HistogramOptions<L>): Histogram<L>;
  /** A handler that serves the Prometheus text exposition (mount it at `/metrics`). */
  handler(): (request: Request) => Response;
  /**
   * A middleware (for `serveHandler` or `honoMiddleware` of `@gochat/kit/http`) that counts
   * requests in `http_requests_total` and times them in `http_request_duration_seconds`, both by
   * `method`, `route` and `status` (500 when the rest of the chain throws).
   */
  middleware<C>(options?: HttpMetricsOptions<C>): Middleware<C>;
  /** Wraps a `Deno.serve` handler in {@linkcode Metrics.middleware}. */
  http(handler: ServeHandler, options?: HttpMetricsOptions): ServeHandler;
  /** The Prometheus text exposition now, or undefined when the driver keeps no values. */
  render(): string | undefined;
  /** Closes the driver. */
  close(): Promise<void>;
}

/** Bounds of prom-client and the Prometheus client libraries, in seconds. */
const DEFAULT_BUCKETS: readonly number[] = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/**
 * The recommended configuration: no prefix, no default labels, the usual latency buckets
 * (5 ms to 10 s), at most 10,000 label sets per instrument.
 *
 * @param env `"development"` or `"production"`.
 * @returns A new configuration object.
 * @throws {RangeError} For any other environment name.
 */
export function defaultConfig(env: "development" | "production"): MetricsConfig {
  requireEnv("metrics", env);
  return {
    prefix: "",
    defaultLabels: {},
    buckets: DEFAULT_BUCKETS,
    maxSeriesPerMetric: 10_000,
    runtimeMetrics: true,
    runtimeMetricsIntervalMs: 10_000,
  };
}

const CONFIG_KEYS = [
  "prefix",
  "defaultLabels",
  "buckets",
  "maxSeriesPerMetric",
  "runtimeMetrics",
  "runtimeMetricsIntervalMs",
] as const satisfies readonly (keyof MetricsConfig)[];

function validateConfig(config: MetricsConfig): void {
  checkConfig("metrics", config, CONFIG_KEYS);
  if (typeof config.prefix !== "string" || (config.prefix && !METRIC_NAME.test(config.prefix))) {
    throw new TypeError(
      `Cannot create metrics as 'prefix' must be empty or match [a-zA-Z_:][a-zA-Z0-9_:]*: current value is ${
        JSON.stringify(config.prefix)
      }`,
    );
  }
  const labels = config.defaultLabels;
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new TypeError("Cannot create metrics as 'defaultLabels' must be an object of strings");
  }
  for (const [name, value] of Object.entries(labels)) {
    checkLabelName("create metrics", name);
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot create metrics as default label '${name}' must be a string: current value is ${value}`,
      );
    }
  }
  checkBuckets("create metrics", config.buckets);
  if (config.runtimeMetrics !== undefined && typeof config.runtimeMetrics !== "boolean") {
    throw new TypeError(
      `Cannot create metrics as 'runtimeMetrics' must be a boolean: current value is ${
        String(config.runtimeMetrics)
      }`,
    );
  }
  const interval = config.runtimeMetricsIntervalMs;
  if (interval !== undefined && (!Number.isSafeInteger(interval) || interval < 100)) {
    throw new RangeError(
      `Cannot create metrics as 'runtimeMetricsIntervalMs' must be an integer of at least 100: current value is ${interval}`,
    );
  }
  if (!Number.isSafeInteger(config.maxSeriesPerMetric) || config.maxSeriesPerMetric < 1) {
    throw new RangeError(
      `Cannot create metrics as 'maxSeriesPerMetric' must be a positive integer: current value is ${config.maxSeriesPerMetric}`,
    );
  }
}

/**
 * Creates a metrics provider.
 *
 * @param config Prefix, default labels, buckets, series bound; see {@linkcode defaultConfig}.
 * @param options Driver (memory by default) and logger.
 * @returns The provider.
 * @throws {TypeError | RangeError} On invalid config.
 */
export function create(
  config: MetricsConfig = defaultConfig("development"),
  options: CreateOptions = {},
): Promise<Metrics> {
  try {
    validateConfig(config);
  } catch (error) {
    return Promise.reject(error);
  }
  const driver = options.driver ?? memoryMetrics();
  const logger = options.logger ?? namespace("metrics");
  const { counter, gauge, histogram } = instruments(driver, logger, config);
  const { middleware, http } = httpMetrics({ counter, histogram }, logger);
  const runtime = config.runtimeMetrics ?? true
    ? runtimeMetrics({ counter, gauge, histogram }, config.runtimeMetricsIntervalMs ?? 10_000)
    : undefined;
  const render = (): string | undefined => {
    runtime?.sample();
    return driver.render?.();
  };
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    runtime?.close();
    return closed ??= driver.close();
  };
  return Promise.resolve({
    driver: driver.name,
    counter,
    gauge,
    histogram,
    handler: () => prometheusHandler(driver.name, render),
    middleware,
    http,
    render,
    close,
    [Symbol.asyncDispose]: close,
  });
}
