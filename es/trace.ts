/**
 * es's OpenTelemetry spans, made by the provider so every driver gets them alike: one client span
 * per call of an index (`search messages`, `bulk messages`, `index messages`, `get messages`,
 * `delete messages`, `indices.delete messages`), carrying `db.system`, `db.operation` and the
 * index name as `db.namespace` (and `db.elasticsearch.path_parts.index` on Elasticsearch); never
 * a document, an id or a query's values. Callers test `kitTracer()` first: without an SDK a call
 * costs one property read more.
 *
 * @module
 */
import { inSpan, type kitTracer, SpanKind } from "../internal/otel.ts";

type Tracer = NonNullable<ReturnType<typeof kitTracer>>;

/** The operations of an index, as Elasticsearch names its endpoints. */
export type IndexOperation = "search" | "bulk" | "index" | "get" | "delete" | "indices.delete";

/**
 * Runs `call` in a client span `<operation> <index>`, child of the active span; its failure
 * marks the span.
 *
 * @param tracer From `kitTracer()`, tested by the caller.
 * @param system The span's `db.system`, `dbSystem` of the driver's name (`elasticsearch`, `memory`;
 *   `postgresql` for the SQL driver).
 * @param operation The span's `db.operation`.
 * @param index The index's full name.
 * @param call The call.
 * @returns What `call` resolves to.
 */
export function indexSpan<T>(
  tracer: Tracer,
  system: string,
  operation: IndexOperation,
  index: string,
  call: () => Promise<T>,
): Promise<T> {
  const attributes: Record<string, string> = {
    "db.system": system,
    "db.operation": operation,
    "db.namespace": index,
  };
  if (system === "elasticsearch") attributes["db.elasticsearch.path_parts.index"] = index;
  return inSpan(tracer, `${operation} ${index}`, { kind: SpanKind.CLIENT, attributes }, call);
}
