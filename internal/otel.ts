/**
 * The kit's door to OpenTelemetry tracing: the API's global registration, the very objects
 * `npm:@opentelemetry/api` hands out (`trace.getTracer`, `context.active`, `propagation`). Deno's
 * built-in SDK (`OTEL_DENO=true`) fills it before any module runs; the JS SDK fills it when it
 * registers. Reading it here instead of importing the npm package keeps every component free of
 * npm downloads, and with nothing registered a traced call costs one property read.
 *
 * @module
 */

/** Where the API (major version 1) registers its globals; see `@opentelemetry/api`'s `global-utils`. */
const API_KEY = Symbol.for("opentelemetry.js.api.1");
/** The context key of the active span (`createContextKey("OpenTelemetry Context Key SPAN")`). */
const SPAN_KEY = Symbol.for("OpenTelemetry Context Key SPAN");

/** The kit's instrumentation scope. */
export const INSTRUMENTATION_SCOPE = "@gochat/kit";

/** Span kinds, numbered as in the API's `SpanKind`. */
export const SpanKind = {
  INTERNAL: 0,
  SERVER: 1,
  CLIENT: 2,
  PRODUCER: 3,
  CONSUMER: 4,
} as const;

/** Attribute values the kit records. */
export type SpanAttributes = Record<string, string | number | boolean | undefined>;

/** An OpenTelemetry context: immutable, keyed by symbols. */
export interface OtelContext {
  getValue(key: symbol): unknown;
  setValue(key: symbol, value: unknown): OtelContext;
  deleteValue(key: symbol): OtelContext;
}

/** What identifies a span across processes. */
export interface SpanIds {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
}

/** The part of an OpenTelemetry span the kit uses. */
export interface OtelSpan {
  spanContext(): SpanIds;
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: SpanAttributes): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: unknown): unknown;
  updateName(name: string): unknown;
  end(): void;
}

interface OtelTracer {
  startSpan(
    name: string,
    options?: { kind?: number; attributes?: SpanAttributes; links?: { context: SpanIds }[] },
    context?: OtelContext,
  ): OtelSpan;
}

interface TextMapGetter {
  get(carrier: unknown, key: string): string | undefined;
  keys(carrier: unknown): string[];
}

interface Registration {
  readonly version?: string;
  readonly trace?: { getTracer(name: string, version?: string): OtelTracer };
  readonly context?: {
    active(): OtelContext;
    with<A extends unknown[], R>(
      context: OtelContext,
      fn: (...args: A) => R,
      self?: unknown,
      ...args: A
    ): R;
  };
  readonly propagation?: {
    inject(
      context: OtelContext,
      carrier: unknown,
      setter: { set(carrier: unknown, key: string, value: string): void },
    ): void;
    extract(context: OtelContext, carrier: unknown, getter: TextMapGetter): OtelContext;
  };
}

const registration = (): Registration | undefined =>
  (globalThis as Record<symbol, Registration | undefined>)[API_KEY];

let tracerOf: unknown;
let tracer: OtelTracer | undefined;

/**
 * The kit's tracer from the registered SDK, or undefined when none is registered: callers test
 * it first and skip every span cost without one. Kept to one global read so V8 inlines it into
 * hot paths (a memory cache `set` lost a third of its speed to a version it did not inline).
 *
 * @returns The tracer, or undefined.
 */
export function kitTracer(): OtelTracer | undefined {
  const registered = (globalThis as Record<symbol, Registration | undefined>)[API_KEY];
  return registered === undefined ? undefined : tracerOfRegistration(registered);
}

function tracerOfRegistration(registered: Registration): OtelTracer | undefined {
  const provider = registered.trace;
  if (provider === undefined) return undefined;
  if (provider !== tracerOf) {
    tracerOf = provider;
    tracer = provider.getTracer(INSTRUMENTATION_SCOPE);
  }
  return tracer;
}

/** The active OpenTelemetry context, when a context manager is registered. */
export function activeContext(): OtelContext | undefined {
  return registration()?.context?.active();
}

/** The span of `context` (the active one by default), when it is a valid one. */
export function spanOf(context = activeContext()): OtelSpan | undefined {
  const span = context?.getValue(SPAN_KEY) as OtelSpan | undefined;
  if (span === undefined) return undefined;
  const { traceId } = span.spanContext();
  return traceId.length === 32 && traceId !== "00000000000000000000000000000000" ? span : undefined;
}

/** Runs `fn` in `context`, or plainly when no context manager is registered. */
export function runIn<T>(context: OtelContext | undefined, fn: () => T): T {
  const manager = registration()?.context;
  return context === undefined || manager === undefined ? fn() : manager.with(context, fn);
}

/** `context` with `span` as its span. */
export function withSpanIn(context: OtelContext, span: OtelSpan): OtelContext {
  return context.setValue(SPAN_KEY, span);
}

/** `context` without a span: what runs in it starts a new trace. */
export function withoutSpan(context: OtelContext): OtelContext {
  return context.deleteValue(SPAN_KEY);
}

/** A span that records nothing and stands for `ids`: a remote parent, or clog's own trace. */
export function nonRecordingSpan(ids: SpanIds): OtelSpan {
  return {
    spanContext: () => ids,
    isRecording: () => false,
    setAttribute: () => undefined,
    addEvent: () => undefined,
    setStatus: () => undefined,
    recordException: () => undefined,
    updateName: () => undefined,
    end: () => undefined,
  };
}

/** Read once: `instanceof Headers` looked up on the global object each time is slow. */
const HeadersClass = Headers;

const headerGetter: TextMapGetter = {
  get: (carrier, key) => (carrier as Headers).get(key) ?? undefined,
  keys: (carrier) => [...(carrier as Headers).keys()],
};
const recordGetter: TextMapGetter = {
  get(carrier, key) {
    const headers = carrier as Record<string, string>;
    if (headers[key] !== undefined) return headers[key];
    for (const name in headers) if (name.toLowerCase() === key) return headers[name];
    return undefined;
  },
  keys: (carrier) => Object.keys(carrier as Record<string, string>),
};

/**
 * The registered propagator's reading of `carrier` on top of `base`, or undefined when no
 * propagator is registered (the kit then reads `traceparent` itself).
 */
export function extractContext(
  base: OtelContext,
  carrier: Headers | Readonly<Record<string, string>>,
): OtelContext | undefined {
  const propagation = registration()?.propagation;
  if (propagation === undefined) return undefined;
  return propagation.extract(
    base,
    carrier,
    carrier instanceof HeadersClass ? headerGetter : recordGetter,
  );
}

/**
 * Writes the registered propagator's headers for `context` into `carrier`; false when no
 * propagator is registered.
 */
export function injectContext(
  context: OtelContext,
  carrier: Headers | Record<string, string>,
): boolean {
  const propagation = registration()?.propagation;
  if (propagation === undefined) return false;
  propagation.inject(context, carrier, {
    set: (target, key, value) =>
      target instanceof HeadersClass
        ? target.set(key, value)
        : ((target as Record<string, string>)[key] = value),
  });
  return true;
}

/** Marks `span` failed by `error`. */
export function failSpan(span: OtelSpan, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: 2, message: error instanceof Error ? error.message : String(error) });
}

/** How {@linkcode inSpan} starts its span. */
export interface SpanOptions {
  readonly kind?: number;
  readonly attributes?: SpanAttributes;
  /** The parent context; the active one by default. */
  readonly parent?: OtelContext;
  /** Spans this one is linked to (a batch's messages, say). */
  readonly links?: SpanIds[];
}

/**
 * Runs `fn` in a new span of `tracer`, active for everything `fn` awaits; the span ends when
 * `fn` settles and records its error.
 *
 * @param tracer From {@linkcode kitTracer}.
 * @param name The span name.
 * @param options Kind, attributes, parent and links.
 * @param fn The work, given its span for more attributes.
 * @returns What `fn` resolves to.
 */
export async function inSpan<T>(
  tracer: OtelTracer,
  name: string,
  options: SpanOptions,
  fn: (span: OtelSpan) => T | Promise<T>,
): Promise<T> {
  const parent = options.parent ?? activeContext();
  const span = tracer.startSpan(name, {
    kind: options.kind,
    attributes: options.attributes,
    links: options.links?.map((context) => ({ context })),
  }, parent);
  try {
    return await (parent === undefined
      ? fn(span)
      : runIn(withSpanIn(parent, span), () => fn(span)));
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Adds an event to the active span, when one records. */
export function spanEvent(name: string, attributes?: SpanAttributes): void {
  if (registration()?.trace === undefined) return;
  const span = spanOf();
  if (span?.isRecording()) span.addEvent(name, attributes);
}
