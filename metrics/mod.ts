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
import type { Exchange, Middleware } from "../http/middleware.ts";
import { type ServeHandler, serveHandler } from "../http/serve.ts";
import { memoryMetrics } from "./memory.ts";
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

export { memoryMetrics, MemoryMetricsDriver } from "./memory.ts";
export type { Exchange, Middleware, Next } from "../http/middleware.ts";
export type { ServeHandler } from "../http/serve.ts";
export * from "./types.ts";

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
}

/** Dependencies of a metrics provider. */
export interface CreateOptions {
  /** The backend; `memoryMetrics()` by default. The provider closes it. */
  readonly driver?: MetricsDriver;
  /** Logger; `clog.namespace("metrics")` by default. */
  readonly logger?: Logger;
}

/**
 * Options of {@linkcode Metrics.middleware} and {@linkcode Metrics.http}.
 *
 * @typeParam C The framework's context: `Deno.ServeHandlerInfo`, Hono's `Context` …
 */
export interface HttpMetricsOptions<C = Deno.ServeHandlerInfo> {
  /**
   * The `route` label of a request, asked after the response. Keep it bounded: a template, not the
   * raw path. Responses with status 404 are all recorded as `(not found)`, and a route function that
   * throws as `(unknown)`.
   * @default {the router's template where the framework has a router (Hono: `/rooms/:id`); else the path, with segments that look like ids (numbers, UUIDs, long hex) as `:id`}
   */
  readonly route?: (request: Request, context: C) => string;
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
  return { prefix: "", defaultLabels: {}, buckets: DEFAULT_BUCKETS, maxSeriesPerMetric: 10_000 };
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function checkBuckets(what: string, buckets: unknown): readonly number[] {
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

function checkLabelName(what: string, label: unknown): string {
  if (typeof label !== "string" || !LABEL_NAME.test(label) || label.startsWith("__")) {
    throw new TypeError(
      `Cannot ${what} as label name ${
        JSON.stringify(label)
      } must match [a-zA-Z_][a-zA-Z0-9_]* and not start with '__'`,
    );
  }
  return label;
}

const CONFIG_KEYS = [
  "prefix",
  "defaultLabels",
  "buckets",
  "maxSeriesPerMetric",
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
  if (!Number.isSafeInteger(config.maxSeriesPerMetric) || config.maxSeriesPerMetric < 1) {
    throw new RangeError(
      `Cannot create metrics as 'maxSeriesPerMetric' must be a positive integer: current value is ${config.maxSeriesPerMetric}`,
    );
  }
}

/** A series that records nothing: what label sets beyond `maxSeriesPerMetric` get. */
const DROPPED: DriverSeries = { add() {}, set() {}, observe() {} };

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
  const defaultNames = Object.keys(config.defaultLabels);
  const defaultValues = Object.values(config.defaultLabels);
  const defined = new Map<string, { key: string; instrument: unknown }>();

  /** One instrument's label handling: label objects to driver series, cached by value. */
  const define = (
    type: InstrumentDescriptor["type"],
    rawName: string,
    options: HistogramOptions<string>,
  ) => {
    const name = `${config.prefix}${rawName}`;
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
      ? checkBuckets(what, options.buckets ?? config.buckets)
      : [];
    const key = JSON.stringify([type, options.help, labels, buckets]);
    const existing = defined.get(name);
    if (existing) {
      if (existing.key !== key) {
        throw new TypeError(
          `Cannot ${what} as '${name}' already exists with another type, help, labels or buckets`,
        );
      }
      return { kind: "existing" as const, instrument: existing.instrument };
    }
    const storage = driver.instrument({
      name,
      type,
      help: options.help,
      labels: [...defaultNames, ...labels],
      buckets,
    });
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
      if (count >= config.maxSeriesPerMetric) {
        if (!warned) {
          warned = true;
          logger.warn("metric has too many label sets; new ones are dropped", {
            metric: name,
            max: config.maxSeriesPerMetric,
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
    /** The series of a label object. */
    const series = (given: Labels<string> | undefined): DriverSeries => {
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
    const remember = <T>(instrument: T): T => {
      defined.set(name, { key, instrument });
      return instrument;
    };
    return { kind: "new" as const, name, series, remember };
  };

  const finite = (name: string, value: unknown, counter: boolean): number => {
    if (typeof value !== "number" || !Number.isFinite(value) || (counter && value < 0)) {
      throw new RangeError(
        `Cannot record '${name}' as the value must be a finite${
          counter ? ", non-negative" : ""
        } number: current value is ${value}`,
      );
    }
    return value;
  };

  const timer = (series: DriverSeries) => () => {
    const started = performance.now();
    return () => {
      const seconds = (performance.now() - started) / 1000;
      series.observe(seconds);
      return seconds;
    };
  };

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

  const render = (): string | undefined => driver.render?.();

  const handler = () => (request: Request): Response => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const text = render();
    if (text === undefined) {
      return new Response(`The ${driver.name} metrics driver exports elsewhere\n`, { status: 404 });
    }
    return new Response(request.method === "HEAD" ? null : text, {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  };

  const middleware = <C>(
    httpOptions: HttpMetricsOptions<C> = {},
  ): Middleware<C> => {
    const routeOf = httpOptions.route;
    if (routeOf !== undefined && typeof routeOf !== "function") {
      throw new TypeError(
        `Cannot create the metrics middleware as 'route' must be a function: current value is ${
          String(routeOf)
        }`,
      );
    }
    const requests = counter("http_requests_total", {
      help: "HTTP requests served, by method, route and status.",
      labels: ["method", "route", "status"],
    });
    const durations = histogram("http_request_duration_seconds", {
      help: "Time to produce the response, by method, route and status.",
      labels: ["method", "route", "status"],
    });
    /** The route label: 404s share one, so scanners cannot use up the label sets. */
    const route = (exchange: Exchange<C>, status: number): string => {
      if (status === 404) return "(not found)";
      try {
        return routeOf?.(exchange.request, exchange.context) ?? exchange.route() ??
          defaultRoute(exchange.request);
      } catch (error) {
        logger.warn("the route function threw; recorded as (unknown)", { err: error });
        return "(unknown)";
      }
    };
    return async (exchange, next) => {
      const started = performance.now();
      const method = exchange.request.method;
      let status = 500;
      try {
        const response = await next();
        status = response.status;
        return response;
      } finally {
        const labels = {
          method: KNOWN_METHODS.has(method) ? method : "OTHER",
          route: route(exchange, status),
          status: String(status),
        };
        requests.inc(labels);
        durations.observe((performance.now() - started) / 1000, labels);
      }
    };
  };

  const http = (inner: ServeHandler, httpOptions: HttpMetricsOptions = {}): ServeHandler =>
    serveHandler(inner, middleware(httpOptions));

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => closed ??= driver.close();
  return Promise.resolve({
    driver: driver.name,
    counter,
    gauge,
    histogram,
    handler,
    middleware,
    http,
    render,
    close,
    [Symbol.asyncDispose]: close,
  });
}

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const ID_SEGMENT =
  /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/** The path, with segments that look like ids replaced by `:id`. */
function defaultRoute(request: Request): string {
  const path = new URL(request.url).pathname;
  return path.split("/").map((segment) => ID_SEGMENT.test(segment) ? ":id" : segment).join("/");
}
