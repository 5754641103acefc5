/**
 * Spans recorded in memory, for tests of code that traces through OpenTelemetry: a minimal SDK
 * (tracer provider, AsyncLocalStorage context manager, W3C `traceparent` propagator) registered
 * where `npm:@opentelemetry/api` registers one, and removed on dispose. Tests of the exported
 * trace end to end use Deno's own SDK instead (`OTEL_DENO=true` in a child process).
 *
 * @example Recording the kit's spans
 * ```ts
 * import { recordSpans } from "@gochat/kit/testing";
 * import { clog } from "@gochat/kit";
 * import assert from "node:assert/strict";
 *
 * using recorder = recordSpans();
 * const root = recorder.startSpan("request");
 * recorder.runIn(root, () => assert.equal(clog.traceContext()?.spanId, root.spanId));
 * root.end();
 * assert.deepEqual(recorder.spans.map((span) => span.name), ["request"]);
 * ```
 *
 * @module
 */
import { AsyncLocalStorage } from "node:async_hooks";

const API_KEY = Symbol.for("opentelemetry.js.api.1");
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/** A span as the recorder keeps it. */
export interface RecordedSpan {
  /** The span's name (its last, after `updateName`). */
  readonly name: string;
  /** 0 internal, 1 server, 2 client, 3 producer, 4 consumer. */
  readonly kind: number;
  /** 32 hex digits. */
  readonly traceId: string;
  /** 16 hex digits. */
  readonly spanId: string;
  /** The parent's span id; undefined for a root span. */
  readonly parentSpanId: string | undefined;
  /** Attributes given at start and set since. */
  readonly attributes: Record<string, unknown>;
  /** Events added, exceptions included (`exception`). */
  readonly events: { name: string; attributes?: Record<string, unknown> }[];
  /** Spans this one links to. */
  readonly links: { traceId: string; spanId: string }[];
  /** 0 unset, 1 ok, 2 error. */
  readonly status: { code: number; message?: string };
  /** Whether `end()` was called. */
  readonly ended: boolean;
  /** Ends the span. */
  end(): void;
}

/** The recorder of {@linkcode recordSpans}. */
export interface SpanRecorder extends Disposable {
  /** Every span started since the recorder was registered, in start order. */
  readonly spans: readonly RecordedSpan[];
  /** Spans named `name`. */
  named(name: string): RecordedSpan[];
  /** Starts a span as a user's own code would, child of the active one. */
  startSpan(name: string, kind?: number): RecordedSpan;
  /** Runs `fn` with `span` active. */
  runIn<T>(span: RecordedSpan, fn: () => T): T;
}

class Context {
  constructor(readonly values: ReadonlyMap<symbol, unknown> = new Map()) {}
  getValue(key: symbol): unknown {
    return this.values.get(key);
  }
  setValue(key: symbol, value: unknown): Context {
    return new Context(new Map(this.values).set(key, value));
  }
  deleteValue(key: symbol): Context {
    const values = new Map(this.values);
    values.delete(key);
    return new Context(values);
  }
}

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

interface SpanLike {
  spanContext(): { traceId: string; spanId: string; traceFlags: number };
}

/**
 * Registers an in-memory OpenTelemetry SDK for the test's duration.
 *
 * @returns The recorder; dispose it to unregister.
 * @throws {Error} When an SDK is registered already (run the test in its own module).
 */
export function recordSpans(): SpanRecorder {
  const global = globalThis as Record<symbol, unknown>;
  if (global[API_KEY] !== undefined) {
    throw new Error("recordSpans: an OpenTelemetry SDK is registered already");
  }
  const spans: RecordedSpan[] = [];
  const storage = new AsyncLocalStorage<Context>();
  const root = new Context();
  const contextManager = {
    active: () => storage.getStore() ?? root,
    with: <A extends unknown[], R>(
      context: Context,
      fn: (...args: A) => R,
      self?: unknown,
      ...args: A
    ): R => storage.run(context, () => fn.apply(self, args)),
  };
  const startSpan = (
    name: string,
    options: {
      kind?: number;
      attributes?: Record<string, unknown>;
      links?: { context: { traceId: string; spanId: string } }[];
    } = {},
    context: Context = contextManager.active(),
  ): RecordedSpan & SpanLike => {
    const parent = (context.getValue(SPAN_KEY) as SpanLike | undefined)?.spanContext();
    const traceId = parent?.traceId ?? hex(16);
    const spanId = hex(8);
    const attributes: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(options.attributes ?? {})) {
      if (value !== undefined) attributes[key] = value;
    }
    const span = {
      name,
      kind: options.kind ?? 0,
      traceId,
      spanId,
      parentSpanId: parent?.spanId,
      attributes,
      events: [] as RecordedSpan["events"],
      links: (options.links ?? []).map(({ context }) => ({
        traceId: context.traceId,
        spanId: context.spanId,
      })),
      status: { code: 0 } as RecordedSpan["status"],
      ended: false,
      spanContext: () => ({ traceId, spanId, traceFlags: 1 }),
      isRecording: () => !span.ended,
      setAttribute(key: string, value: unknown) {
        attributes[key] = value;
        return span;
      },
      addEvent(name: string, attributes?: Record<string, unknown>) {
        span.events.push({ name, attributes });
        return span;
      },
      setStatus(status: { code: number; message?: string }) {
        span.status = status;
        return span;
      },
      recordException(error: unknown) {
        span.events.push({
          name: "exception",
          attributes: { "exception.message": error instanceof Error ? error.message : error },
        });
      },
      updateName(next: string) {
        span.name = next;
        return span;
      },
      end() {
        span.ended = true;
      },
    };
    spans.push(span);
    return span;
  };
  const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
  global[API_KEY] = {
    version: "1.9.0",
    trace: { getTracer: () => ({ startSpan }) },
    context: contextManager,
    propagation: {
      inject(
        context: Context,
        carrier: unknown,
        setter: { set(carrier: unknown, key: string, value: string): void },
      ) {
        const ids = (context.getValue(SPAN_KEY) as SpanLike | undefined)?.spanContext();
        if (ids) setter.set(carrier, "traceparent", `00-${ids.traceId}-${ids.spanId}-01`);
      },
      extract(
        context: Context,
        carrier: unknown,
        getter: { get(carrier: unknown, key: string): string | undefined },
      ) {
        const match = TRACEPARENT.exec(getter.get(carrier, "traceparent") ?? "");
        if (!match) return context;
        const ids = { traceId: match[1], spanId: match[2], traceFlags: 1 };
        return context.setValue(SPAN_KEY, { spanContext: () => ids, isRecording: () => false });
      },
      fields: () => ["traceparent"],
    },
  };
  return {
    spans,
    named: (name) => spans.filter((span) => span.name === name),
    startSpan: (name, kind) => startSpan(name, { kind }),
    runIn: (span, fn) => storage.run(contextManager.active().setValue(SPAN_KEY, span), fn),
    [Symbol.dispose]() {
      delete global[API_KEY];
    },
  };
}
