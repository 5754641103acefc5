/**
 * HTTP metrics: a middleware (for `serveHandler` or `honoMiddleware` of
 * `@gochat/kit/http`) that counts requests in `http_requests_total` and times
 * them in `http_request_duration_seconds`, by `method`, `route` and `status`.
 * The route label stays bounded: the router's template where there is one,
 * else the path with id-like segments as `:id`, and every 404 as `(not found)`.
 *
 * @module
 */
import type { Logger } from "../clog/mod.ts";
import type { Exchange, Middleware } from "../http/middleware.ts";
import { type ServeHandler, serveHandler } from "../http/serve.ts";
import type { Instruments } from "./instruments.ts";

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

/** The HTTP metrics of one provider. */
export interface HttpMetrics {
  /** The middleware. */
  middleware<C>(options?: HttpMetricsOptions<C>): Middleware<C>;
  /** A `Deno.serve` handler wrapped in the middleware. */
  http(handler: ServeHandler, options?: HttpMetricsOptions): ServeHandler;
}

/**
 * The HTTP metrics of one provider.
 *
 * @param instruments Where the request counter and histogram are defined.
 * @param logger Where a throwing route function is reported.
 * @returns `middleware` and `http`.
 */
export function httpMetrics(
  instruments: Pick<Instruments, "counter" | "histogram">,
  logger: Logger,
): HttpMetrics {
  const middleware = <C>(httpOptions: HttpMetricsOptions<C> = {}): Middleware<C> => {
    const routeOf = httpOptions.route;
    if (routeOf !== undefined && typeof routeOf !== "function") {
      throw new TypeError(
        `Cannot create the metrics middleware as 'route' must be a function: current value is ${
          String(routeOf)
        }`,
      );
    }
    const requests = instruments.counter("http_requests_total", {
      help: "HTTP requests served, by method, route and status.",
      labels: ["method", "route", "status"],
    });
    const durations = instruments.histogram("http_request_duration_seconds", {
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
  return { middleware, http };
}

const KNOWN_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);
const ID_SEGMENT =
  /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

/** The path, with segments that look like ids replaced by `:id`. */
function defaultRoute(request: Request): string {
  const path = new URL(request.url).pathname;
  return path.split("/").map((segment) => ID_SEGMENT.test(segment) ? ":id" : segment).join("/");
}
