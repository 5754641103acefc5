/**
 * Traces across HTTP: {@linkcode traceMiddleware} continues the caller's trace for the request
 * (a server span with an OpenTelemetry SDK, clog's trace without one) and answers with it;
 * {@linkcode tracedFetch} calls another service inside a client span, the trace in the request's
 * headers. Both speak W3C `traceparent` / `tracestate` and the Go kit's `X-Trace-ID`.
 *
 * @example One trace through two services
 * ```ts
 * import { serveHandler, traceMiddleware } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const handler = serveHandler(() => new Response("ok"), traceMiddleware());
 * const response = await handler(
 *   new Request("http://orders/", {
 *     headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
 *   }),
 *   {} as Deno.ServeHandlerInfo,
 * );
 * assert.equal(response.headers.get("X-Trace-ID"), "4bf92f3577b34da6a3ce929d0e0e4736");
 * ```
 *
 * @module
 */
import { newSpanId, newTraceId, withTrace } from "../clog/context.ts";
import { GO_TRACE_HEADER, remoteContext, traceHeaders, traceOf } from "../clog/propagation.ts";
import { inSpan, kitTracer, type OtelSpan, SpanKind, spanOf } from "../internal/otel.ts";
import type { Exchange, Middleware, Next } from "./middleware.ts";

/** Options of {@linkcode traceMiddleware}. */
export interface TraceMiddlewareOptions {
  /**
   * Answer with the trace: `traceresponse` (W3C Trace Context level 2) and `X-Trace-ID`.
   * @default {true}
   */
  readonly responseHeaders?: boolean;
}

/**
 * Middleware that runs the rest of the request in the caller's trace.
 *
 * - With an OpenTelemetry SDK registered: a server span `METHOD /route/:template`, child of the
 *   caller's span (`traceparent` read through the registered propagator), with the semantic
 *   convention attributes (`http.request.method`, `url.path`, `url.scheme`, `server.address`,
 *   `http.route`, `http.response.status_code`; 5xx marks it failed). When the runtime made the
 *   server span already (`Deno.serve` under `OTEL_DENO=true`), that span is named after the route
 *   and given `http.route` instead of a second one being made.
 * - Without: clog's trace, from `traceparent` or `X-Trace-ID`, a new one when the request has
 *   none, so every line logged for the request carries its `trace_id`.
 *
 * Put it first, so the other middleware run inside the trace.
 *
 * @param options Whether the response carries the trace.
 * @returns The middleware.
 */
export function traceMiddleware<C = unknown>(options: TraceMiddlewareOptions = {}): Middleware<C> {
  const answer = options.responseHeaders ?? true;
  return async (exchange, next) => {
    const tracer = kitTracer();
    if (tracer === undefined) {
      const trace = traceOf(exchange.request.headers) ?? { traceId: newTraceId() };
      const spanId = trace.spanId ?? newSpanId();
      const response = await withTrace(trace.traceId, next, { spanId });
      return answer ? answered(response, trace.traceId, spanId, 1) : response;
    }
    const runtimeSpan = spanOf();
    if (runtimeSpan?.isRecording()) {
      const response = await serve(exchange, next, runtimeSpan);
      return answer ? answeredWith(response, runtimeSpan) : response;
    }
    const { request } = exchange;
    const url = new URL(request.url);
    return await inSpan(tracer, request.method, {
      kind: SpanKind.SERVER,
      parent: remoteContext(request.headers),
      attributes: {
        "http.request.method": request.method,
        "url.path": url.pathname,
        "url.scheme": url.protocol.slice(0, -1),
        "server.address": url.hostname,
        "user_agent.original": request.headers.get("user-agent") ?? undefined,
      },
    }, async (span) => {
      const response = await serve(exchange, next, span);
      return answer ? answeredWith(response, span) : response;
    });
  };
}

/** Runs the rest and records the route and the status on `span`. */
async function serve<C>(exchange: Exchange<C>, next: Next, span: OtelSpan): Promise<Response> {
  const response = await next();
  const route = exchange.route();
  if (route !== undefined) {
    span.updateName(`${exchange.request.method} ${route}`);
    span.setAttribute("http.route", route);
  }
  span.setAttribute("http.response.status_code", response.status);
  if (response.status >= 500) span.setStatus({ code: 2 });
  return response;
}

function answeredWith(response: Response, span: OtelSpan): Response {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return answered(response, traceId, spanId, traceFlags);
}

/**
 * A copy of `response` carrying the trace: a response made by someone else is not changed, and
 * a protocol switch (101, a WebSocket upgrade) passes as it is.
 */
function answered(response: Response, traceId: string, spanId: string, flags: number): Response {
  if (response.status < 200) return response;
  const copy = new Response(response.body, response);
  if (/^[0-9a-f]{32}$/.test(traceId)) {
    copy.headers.set("traceresponse", `00-${traceId}-${spanId}-0${flags & 1}`);
  }
  copy.headers.set(GO_TRACE_HEADER, traceId);
  return copy;
}

/**
 * `fetch` that continues the current trace in the called service: inside a client span with an
 * OpenTelemetry SDK registered (`url.full` without credentials or query, `server.address`,
 * `http.response.status_code`; 4xx and 5xx mark it failed), the trace written as `traceparent`
 * (and `tracestate`, through the registered propagator) and `X-Trace-ID`. Without an SDK, clog's
 * trace is written the same way.
 *
 * @param input What `fetch` takes.
 * @param init What `fetch` takes.
 * @returns The response.
 *
 * @example Calling another service
 * ```ts ignore
 * import { tracedFetch } from "@gochat/kit/http";
 *
 * const response = await tracedFetch("http://im-repo:8080/messages/7");
 * ```
 */
export async function tracedFetch(
  input: string | URL | Request,
  init?: RequestInit,
): Promise<Response> {
  const request = new Request(input, init);
  const tracer = kitTracer();
  if (tracer === undefined) {
    for (const [name, value] of Object.entries(traceHeaders())) request.headers.set(name, value);
    return await fetch(request);
  }
  const url = new URL(request.url);
  return await inSpan(tracer, request.method, {
    kind: SpanKind.CLIENT,
    attributes: {
      "http.request.method": request.method,
      "url.full": `${url.origin}${url.pathname}`,
      "server.address": url.hostname,
      "server.port": Number(url.port) || (url.protocol === "https:" ? 443 : 80),
    },
  }, async (span) => {
    for (const [name, value] of Object.entries(traceHeaders(span))) {
      request.headers.set(name, value);
    }
    const response = await fetch(request);
    span.setAttribute("http.response.status_code", response.status);
    if (response.status >= 400) span.setStatus({ code: 2 });
    return response;
  });
}
