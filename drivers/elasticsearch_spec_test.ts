/**
 * The Elasticsearch driver's requests and its reading of responses, checked against Elasticsearch's
 * published REST API specification (https://github.com/elastic/elasticsearch-specification) with
 * no server: a fake `fetch` records every request the driver sends and answers as the
 * specification (and Elasticsearch 8) says. The specification facts relied on are the tables
 * below, each naming its file under `specification/` at commit {@linkcode SPEC_COMMIT}.
 *
 * Object tables list properties the specification defines; some list only a subset (said so
 * beside them), so a property the driver starts sending that is not listed fails until it is
 * looked up and added. No table allows what the specification does not.
 */
import assert from "node:assert/strict";
import { DriverError } from "../es/mod.ts";
import type { DriverQuery, IndexedDoc } from "../es/driver.ts";
import { elasticsearchSearch } from "./elasticsearch.ts";

/** elastic/elasticsearch-specification, main as read for these tables (2026-08-20). */
const SPEC_COMMIT = "9d9b9a521cc1070c1c9eb6c77d91c3a5fb09730d";

// ---------------------------------------------------------------------------------------------
// A small checker of JSON values against shapes written from the specification's TypeScript.

type Schema =
  | { readonly t: "string" | "integer" | "number" | "boolean" | "null" | "any" }
  | { readonly t: "enum"; readonly values: readonly (string | boolean)[] }
  | { readonly t: "array"; readonly items: Schema }
  | { readonly t: "union"; readonly of: readonly Schema[] }
  | {
    readonly t: "object";
    readonly props: Readonly<Record<string, Schema>>;
    readonly required?: readonly string[];
    /** The value of any other key (`Dictionary`, `AdditionalProperty`); none allowed without. */
    readonly extra?: Schema;
  }
  | {
    /** `@variants container`: exactly one key, a variant's or (`extra`) a field's. */
    readonly t: "container";
    readonly variants: Readonly<Record<string, Schema>>;
    readonly extra?: Schema;
  }
  | { readonly t: "lazy"; readonly get: () => Schema };

const STRING: Schema = { t: "string" };
const INTEGER: Schema = { t: "integer" };
const NUMBER: Schema = { t: "number" };
const BOOLEAN: Schema = { t: "boolean" };
const ANY: Schema = { t: "any" };
const NULL: Schema = { t: "null" };
const union = (...of: Schema[]): Schema => ({ t: "union", of });
const array = (items: Schema): Schema => ({ t: "array", items });
const oneOf = (...values: (string | boolean)[]): Schema => ({ t: "enum", values });
const object = (
  props: Record<string, Schema>,
  required: string[] = [],
  extra?: Schema,
): Schema => ({ t: "object", props, required, extra });
/** Properties the spec defines that the driver does not send, any value: names apart by spaces. */
const anyOf = (names: string): Record<string, Schema> =>
  Object.fromEntries(names.trim().split(/\s+/).map((name) => [name, ANY]));

/** Where `value` departs from `schema`, one line each; empty when it conforms. */
function conform(value: unknown, schema: Schema, path = "$"): string[] {
  switch (schema.t) {
    case "any":
      return [];
    case "null":
      return value === null ? [] : [`${path}: ${JSON.stringify(value)} is not null`];
    case "string":
      return typeof value === "string" ? [] : [`${path}: ${JSON.stringify(value)} is not a string`];
    case "boolean":
      return typeof value === "boolean"
        ? []
        : [`${path}: ${JSON.stringify(value)} is not a boolean`];
    case "number":
      return typeof value === "number" && Number.isFinite(value)
        ? []
        : [`${path}: ${JSON.stringify(value)} is not a number`];
    case "integer":
      return Number.isSafeInteger(value)
        ? []
        : [`${path}: ${JSON.stringify(value)} is not an integer`];
    case "enum":
      return schema.values.includes(value as string | boolean)
        ? []
        : [`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.values)}`];
    case "lazy":
      return conform(value, schema.get(), path);
    case "union": {
      const failures = schema.of.map((option) => conform(value, option, path));
      return failures.some((f) => f.length === 0)
        ? []
        : [`${path}: matches no alternative (${failures.map((f) => f[0]).join(" | ")})`];
    }
    case "array":
      return Array.isArray(value)
        ? value.flatMap((item, i) => conform(item, schema.items, `${path}[${i}]`))
        : [`${path}: ${JSON.stringify(value)} is not an array`];
    case "object":
    case "container": {
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return [`${path}: ${JSON.stringify(value)} is not an object`];
      }
      const known = schema.t === "object" ? schema.props : schema.variants;
      const errors: string[] = [];
      const keys = Object.keys(value);
      if (schema.t === "container" && keys.length !== 1) {
        errors.push(`${path}: a container has exactly one key, not ${JSON.stringify(keys)}`);
      }
      for (const key of schema.t === "object" ? schema.required ?? [] : []) {
        if (!(key in value)) errors.push(`${path}: required '${key}' is missing`);
      }
      for (const [key, item] of Object.entries(value)) {
        const sub = Object.hasOwn(known, key) ? known[key] : schema.extra;
        if (sub === undefined) errors.push(`${path}: '${key}' is not a property the spec defines`);
        else errors.push(...conform(item, sub, `${path}.${key}`));
      }
      return errors;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Specification tables (elastic/elasticsearch-specification at SPEC_COMMIT, `specification/…`).

// _types/common.ts: Refresh, FieldValue (long | double | string | boolean | null), MediaType.
const REFRESH = oneOf("true", "false", "wait_for");
const FIELD_VALUE = union(NUMBER, STRING, BOOLEAN, NULL);
const MEDIA_JSON = "application/json";
const MEDIA_NDJSON = "application/x-ndjson";
// _types/query_dsl/Operator.ts: Operator. _types/sort.ts: SortOrder.
const OPERATOR = oneOf("and", "or");
const SORT_ORDER = oneOf("asc", "desc");
// _types/query_dsl/fulltext.ts: TextQueryType.
const TEXT_QUERY_TYPE = oneOf(
  "best_fields",
  "most_fields",
  "cross_fields",
  "phrase",
  "phrase_prefix",
  "bool_prefix",
);
// _types/mapping/dynamic-template.ts: DynamicMapping (true and false also as JSON booleans).
const DYNAMIC_MAPPING = oneOf("strict", "runtime", "true", "false", true, false);
// _types/Time.ts: DateFormat = string; the driver sends only this one.
const EPOCH_MILLIS = oneOf("epoch_millis");

// _types/query_dsl/abstractions.ts: QueryBase.
const QUERY_BASE = { boost: NUMBER, _name: STRING };
// _types/query_dsl/term.ts: TermsQuery = QueryBase + AdditionalProperty<Field, TermsQueryField>
// (FieldValue[] | TermsLookup; the driver sends values).
const TERMS_QUERY = object(QUERY_BASE, [], array(FIELD_VALUE));
// _types/query_dsl/term.ts: RangeQueryBase + UntypedRangeQuery / NumberRangeQuery (format and
// time_zone belong to the date and untyped variants; bounds of the untyped one are any value).
const RANGE_BOUNDS = {
  ...QUERY_BASE,
  relation: oneOf("within", "contains", "intersects"),
  gt: NUMBER,
  gte: NUMBER,
  lt: NUMBER,
  lte: NUMBER,
};
const RANGE_QUERY = union(
  object(RANGE_BOUNDS), // NumberRangeQuery
  object({ ...RANGE_BOUNDS, format: EPOCH_MILLIS, time_zone: STRING }), // UntypedRangeQuery
);
// _types/query_dsl/fulltext.ts: MultiMatchQuery (query required).
const MULTI_MATCH_QUERY = object({
  ...QUERY_BASE,
  ...anyOf(`
    analyzer auto_generate_synonyms_phrase_query cutoff_frequency fuzziness
    fuzzy_rewrite fuzzy_transpositions lenient max_expansions minimum_should_match
    prefix_length slop tie_breaker zero_terms_query
  `),
  fields: union(STRING, array(STRING)),
  operator: OPERATOR,
  query: STRING,
  type: TEXT_QUERY_TYPE,
}, ["query"]);
// _types/query_dsl/abstractions.ts: QueryContainer (@variants container). Subset: the variants
// the driver uses; the spec defines many more.
const QUERY_CONTAINER: Schema = {
  t: "container",
  variants: {
    bool: { t: "lazy", get: () => BOOL_QUERY },
    terms: TERMS_QUERY,
    range: { t: "container", variants: {}, extra: RANGE_QUERY }, // SingleKeyDictionary<Field, …>
    multi_match: MULTI_MATCH_QUERY,
  },
};
// _types/query_dsl/compound.ts: BoolQuery.
const CLAUSES = union(QUERY_CONTAINER, array(QUERY_CONTAINER));
const BOOL_QUERY = object({
  ...QUERY_BASE,
  filter: CLAUSES,
  minimum_should_match: union(INTEGER, STRING),
  must: CLAUSES,
  must_not: CLAUSES,
  should: CLAUSES,
});
// _types/sort.ts: SortOptions (@variants container; any other key is a field with FieldSort),
// ScoreSort, FieldSort; Missing (_types/aggregations/AggregationContainer.ts) is
// string | integer | double | boolean, `_last` and `_first` being the documented strings.
const SCORE_SORT = object({ order: SORT_ORDER });
const FIELD_SORT = object({
  missing: union(oneOf("_last", "_first"), NUMBER, BOOLEAN),
  mode: oneOf("min", "max", "sum", "avg", "median"),
  nested: ANY,
  order: SORT_ORDER,
  unmapped_type: STRING,
  numeric_type: oneOf("long", "double", "date", "date_nanos"),
  format: STRING,
});
const SORT_OPTIONS: Schema = {
  t: "container",
  variants: { _score: SCORE_SORT, _doc: SCORE_SORT, _geo_distance: ANY, _script: ANY },
  extra: FIELD_SORT,
};
// _global/search/SearchRequest.ts: the request body; _global/search/_types/hits.ts: TrackHits.
const SEARCH_BODY = object({
  ...anyOf(`
    aggregations aggs collapse explain ext highlight indices_boost docvalue_fields knn
    rank min_score post_filter profile rescore retriever script_fields search_after
    slice _source fields suggest terminate_after timeout version seq_no_primary_term
    stored_fields pit runtime_mappings stats project_routing
  `),
  from: INTEGER,
  size: INTEGER,
  track_total_hits: union(BOOLEAN, INTEGER),
  track_scores: BOOLEAN,
  query: QUERY_CONTAINER,
  sort: union(STRING, SORT_OPTIONS, array(union(STRING, SORT_OPTIONS))),
});

// _types/analysis/analyzers.ts: CustomAnalyzer (Analyzer is tagged by `type`). Its `filter` and
// `tokenizer` name built-ins: these are `type` tags of TokenFilterDefinition
// (_types/analysis/token_filters.ts: CjkWidthTokenFilter, LowercaseTokenFilter,
// CjkBigramTokenFilter) and of TokenizerDefinition (_types/analysis/tokenizers.ts:
// StandardTokenizer). Subset: the built-ins the driver uses.
const BUILTIN_FILTER = oneOf("cjk_width", "lowercase", "cjk_bigram");
const CUSTOM_ANALYZER = object({
  type: oneOf("custom"),
  char_filter: union(STRING, array(STRING)),
  filter: union(BUILTIN_FILTER, array(BUILTIN_FILTER)),
  position_increment_gap: INTEGER,
  position_offset_gap: INTEGER,
  tokenizer: oneOf("standard"),
}, ["tokenizer"]);
// indices/_types/IndexSettings.ts: IndexSettings (AdditionalProperties: other settings), with
// IndexSettingsAnalysis.
const INDEX_SETTINGS = object(
  {
    number_of_shards: union(INTEGER, STRING),
    number_of_replicas: union(INTEGER, STRING),
    analysis: object({
      analyzer: object({}, [], CUSTOM_ANALYZER),
      char_filter: ANY,
      filter: ANY,
      normalizer: ANY,
      tokenizer: ANY,
    }),
  },
  [],
  ANY,
);
// _types/mapping/core.ts: the Property variants the driver maps to (tagged by `type`). Subset:
// the properties of each the driver sends (TextProperty.analyzer, DateProperty.format).
const PROPERTY = union(
  object({ type: oneOf("text"), analyzer: STRING }, ["type"]),
  object({ type: oneOf("keyword") }, ["type"]),
  object({ type: oneOf("double") }, ["type"]),
  object({ type: oneOf("boolean") }, ["type"]),
  object({ type: oneOf("date"), format: STRING }, ["type"]),
);
// _types/mapping/TypeMapping.ts: TypeMapping.
const TYPE_MAPPING = object({
  ...anyOf(`
    all_field date_detection dynamic_date_formats dynamic_templates _field_names
    index_field _meta numeric_detection _routing _size _source runtime enabled
    subobjects _data_stream_timestamp
  `),
  dynamic: DYNAMIC_MAPPING,
  properties: object({}, [], PROPERTY),
});
// indices/create/IndicesCreateRequest.ts: the body.
const CREATE_BODY = object({ aliases: ANY, mappings: TYPE_MAPPING, settings: INDEX_SETTINGS });
// indices/put_mapping/IndicesPutMappingRequest.ts: the body.
const PUT_MAPPING_BODY = object({
  ...anyOf(`
    date_detection dynamic_date_formats dynamic_templates _field_names _meta
    numeric_detection _routing _source runtime
  `),
  dynamic: DYNAMIC_MAPPING,
  properties: object({}, [], PROPERTY),
});
// _global/bulk/types.ts: OperationContainer (@variants container), OperationBase,
// WriteOperation (index, create), DeleteOperation, UpdateOperation, UpdateAction.
const OPERATION_BASE = {
  _id: STRING,
  _index: STRING,
  routing: STRING,
  if_primary_term: INTEGER,
  if_seq_no: INTEGER,
  version: INTEGER,
  version_type: oneOf("internal", "external", "external_gte"),
};
const WRITE_OPERATION = object({
  ...OPERATION_BASE,
  dynamic_templates: object({}, [], STRING),
  pipeline: STRING,
  require_alias: BOOLEAN,
});
const OPERATION_CONTAINER: Schema = {
  t: "container",
  variants: {
    index: WRITE_OPERATION,
    create: WRITE_OPERATION,
    delete: object(OPERATION_BASE),
    update: object({ ...OPERATION_BASE, require_alias: BOOLEAN, retry_on_conflict: INTEGER }),
  },
};
/** Actions followed by a source line (_global/bulk/BulkRequest.ts: `delete` is not). */
const WITH_SOURCE = new Set(["index", "create", "update"]);

// _types/Errors.ts: ErrorCause (AdditionalProperties); _types/Base.ts: ErrorResponseBase.
const ERROR_CAUSE: Schema = object(
  {
    type: STRING,
    reason: union(STRING, NULL),
    stack_trace: STRING,
    caused_by: { t: "lazy", get: () => ERROR_CAUSE },
    root_cause: array({ t: "lazy", get: () => ERROR_CAUSE }),
    suppressed: array({ t: "lazy", get: () => ERROR_CAUSE }),
  },
  ["type"],
  ANY,
);
const ERROR_RESPONSE = object({ error: ERROR_CAUSE, status: INTEGER }, ["error", "status"]);
// _types/Stats.ts: ShardStatistics.
const SHARDS = object(
  { failed: INTEGER, successful: INTEGER, total: INTEGER, failures: ANY, skipped: INTEGER },
  ["failed", "successful", "total"],
);
// _global/bulk/BulkResponse.ts and _global/bulk/types.ts: ResponseItem.
const RESPONSE_ITEM = object({
  _id: union(STRING, NULL),
  _index: STRING,
  status: INTEGER,
  failure_store: ANY,
  error: ERROR_CAUSE,
  _primary_term: INTEGER,
  result: STRING,
  _seq_no: INTEGER,
  _shards: SHARDS,
  _version: INTEGER,
  forced_refresh: BOOLEAN,
  get: ANY,
}, ["_index", "status"]);
const BULK_RESPONSE = object({
  errors: BOOLEAN,
  items: array({
    t: "container",
    variants: {
      index: RESPONSE_ITEM,
      create: RESPONSE_ITEM,
      update: RESPONSE_ITEM,
      delete: RESPONSE_ITEM,
    },
  }),
  took: INTEGER,
  ingest_took: INTEGER,
}, ["errors", "items", "took"]);
// _global/search/_types/hits.ts: Hit (_score optional and nullable), HitsMetadata (total
// optional, TotalHits | long), TotalHits; _global/search/SearchResponse.ts: ResponseBody.
const HIT = object({
  ...anyOf(`
    _explanation fields highlight inner_hits matched_queries _nested _ignored
    ignored_field_values _shard _node _routing _rank _seq_no _primary_term _version
  `),
  _index: STRING,
  _id: STRING,
  _score: union(NUMBER, NULL),
  _source: ANY,
  sort: array(FIELD_VALUE),
}, ["_index"]);
const SEARCH_RESPONSE = object({
  ...anyOf(`
    aggregations _clusters fields max_score num_reduce_phases profile pit_id _scroll_id
    suggest terminated_early
  `),
  took: INTEGER,
  timed_out: BOOLEAN,
  _shards: SHARDS,
  hits: object({
    total: union(
      object({ relation: oneOf("eq", "gte"), value: INTEGER }, ["relation", "value"]),
      INTEGER,
    ),
    hits: array(HIT),
    max_score: union(NUMBER, NULL),
  }, ["hits"]),
}, ["took", "timed_out", "_shards", "hits"]);
// _global/get/types.ts: GetResult (_source optional); _global/get/GetResponse.ts: a 404 is a
// GetResult with found false, or an error when the index does not exist.
const GET_RESULT = object({
  _index: STRING,
  fields: ANY,
  _ignored: array(STRING),
  found: BOOLEAN,
  _id: STRING,
  _primary_term: INTEGER,
  _routing: STRING,
  _seq_no: INTEGER,
  _source: ANY,
  _version: INTEGER,
}, ["_index", "found", "_id"]);
// indices/get_mapping/IndicesGetMappingResponse.ts: Dictionary<IndexName, IndexMappingRecord>.
const GET_MAPPING_RESPONSE = object(
  {},
  [],
  object({ item: TYPE_MAPPING, mappings: TYPE_MAPPING }, ["mappings"]),
);
// indices/create/IndicesCreateResponse.ts; indices/put_mapping and indices/delete answer
// IndicesResponseBase (_types/Base.ts); _global/info/RootNodeInfoResponse.ts.
const CREATE_RESPONSE = object(
  { index: STRING, shards_acknowledged: BOOLEAN, acknowledged: BOOLEAN },
  ["index", "shards_acknowledged", "acknowledged"],
);
const ACKNOWLEDGED = object({ acknowledged: BOOLEAN, _shards: SHARDS }, ["acknowledged"]);
const INFO_RESPONSE = object(
  { cluster_name: STRING, cluster_uuid: STRING, name: STRING, tagline: STRING, version: ANY },
  ["cluster_name", "cluster_uuid", "name", "tagline", "version"],
);

interface Endpoint {
  /** The spec's file under `specification/`. */
  readonly file: string;
  readonly urls: readonly { readonly path: string; readonly methods: readonly string[] }[];
  /** `query_parameters` of the request: the ones the driver may send typed, the others any. */
  readonly query: Readonly<Record<string, Schema>>;
  /** `request_media_type` and the body; none: the request has no body. */
  readonly body?: { readonly mediaType: string; readonly schema?: Schema };
  /** The response body on success (a HEAD has none). */
  readonly response?: Schema;
}

/** The endpoints the driver calls (`urls`, `query_parameters`, `request_media_type`, `body`). */
const ENDPOINTS: Readonly<Record<string, Endpoint>> = {
  bulk: {
    file: "_global/bulk/BulkRequest.ts",
    urls: [
      { path: "/_bulk", methods: ["POST", "PUT"] },
      { path: "/{index}/_bulk", methods: ["POST", "PUT"] },
    ],
    query: {
      ...anyOf(`
        include_source_on_error list_executed_pipelines pipeline routing _slice _source
        _source_excludes _source_includes timeout wait_for_active_shards require_alias
        require_data_stream
      `),
      refresh: REFRESH,
    },
    body: { mediaType: MEDIA_NDJSON }, // checked line by line: checkBulkBody
    response: BULK_RESPONSE,
  },
  search: {
    file: "_global/search/SearchRequest.ts",
    urls: [
      { path: "/_search", methods: ["GET", "POST"] },
      { path: "/{index}/_search", methods: ["GET", "POST"] },
    ],
    // Subset of its query parameters: none is sent, and a sent one fails until it is added.
    query: {},
    body: { mediaType: MEDIA_JSON, schema: SEARCH_BODY },
    response: SEARCH_RESPONSE,
  },
  "indices.create": {
    file: "indices/create/IndicesCreateRequest.ts",
    urls: [{ path: "/{index}", methods: ["PUT"] }],
    query: anyOf(`master_timeout timeout wait_for_active_shards`),
    body: { mediaType: MEDIA_JSON, schema: CREATE_BODY },
    response: CREATE_RESPONSE,
  },
  "indices.put_mapping": {
    file: "indices/put_mapping/IndicesPutMappingRequest.ts",
    urls: [{ path: "/{index}/_mapping", methods: ["PUT", "POST"] }],
    query: anyOf(`
      allow_no_indices expand_wildcards ignore_unavailable master_timeout timeout
      write_index_only
    `),
    body: { mediaType: MEDIA_JSON, schema: PUT_MAPPING_BODY },
    response: ACKNOWLEDGED,
  },
  "indices.get_mapping": {
    file: "indices/get_mapping/IndicesGetMappingRequest.ts",
    urls: [
      { path: "/_mapping", methods: ["GET"] },
      { path: "/{index}/_mapping", methods: ["GET"] },
    ],
    query: anyOf(`allow_no_indices expand_wildcards ignore_unavailable local master_timeout`),
    response: GET_MAPPING_RESPONSE,
  },
  "indices.exists": {
    file: "indices/exists/IndicesExistsRequest.ts",
    urls: [{ path: "/{index}", methods: ["HEAD"] }],
    query: anyOf(`
      allow_no_indices expand_wildcards flat_settings ignore_unavailable include_defaults
      local
    `),
  },
  "indices.delete": {
    file: "indices/delete/IndicesDeleteRequest.ts",
    urls: [{ path: "/{index}", methods: ["DELETE"] }],
    query: anyOf(`allow_no_indices expand_wildcards ignore_unavailable master_timeout timeout`),
    response: ACKNOWLEDGED,
  },
  get: {
    file: "_global/get/GetRequest.ts",
    urls: [{ path: "/{index}/_doc/{id}", methods: ["GET"] }],
    // Subset: none is sent.
    query: {},
    response: GET_RESULT,
  },
  info: {
    file: "_global/info/RootNodeInfoRequest.ts",
    urls: [{ path: "/", methods: ["GET"] }],
    query: {},
    response: INFO_RESPONSE,
  },
};

/** A URL pattern as a regular expression: an index name does not start with `_`. */
function pattern(path: string): RegExp {
  const source = path.replace("{index}", "[^/_][^/]*").replace("{id}", "[^/]+");
  return new RegExp(`^${source}$`);
}

/** The endpoints a method and path are, by the spec's `urls`. */
function endpointsOf(method: string, path: string): string[] {
  return Object.entries(ENDPOINTS)
    .filter(([, endpoint]) =>
      endpoint.urls.some((url) => url.methods.includes(method) && pattern(url.path).test(path))
    )
    .map(([name]) => name);
}

/** Where an NDJSON bulk body departs from _global/bulk/BulkRequest.ts. */
function checkBulkBody(body: string): string[] {
  // "The final line of data must end with a newline character".
  if (!body.endsWith("\n")) return ["bulk: the body does not end with a newline"];
  const lines = body.slice(0, -1).split("\n");
  const errors: string[] = [];
  if (lines.length === 0 || lines[0] === "") errors.push("bulk: no operation");
  for (let i = 0; i < lines.length; i++) {
    let action: Record<string, unknown>;
    try {
      action = JSON.parse(lines[i]);
    } catch {
      errors.push(`bulk line ${i + 1}: not JSON: ${lines[i]}`);
      continue;
    }
    errors.push(...conform(action, OPERATION_CONTAINER, `bulk line ${i + 1}`));
    const kind = Object.keys(action ?? {})[0];
    if (WITH_SOURCE.has(kind)) {
      i++;
      let source: unknown;
      try {
        source = JSON.parse(lines[i] ?? "");
      } catch {
        errors.push(`bulk line ${i + 1}: the ${kind} action has no JSON source line`);
        continue;
      }
      errors.push(...conform(source, object({}, [], ANY), `bulk line ${i + 1}`));
    }
  }
  return errors;
}

interface Sent {
  readonly method: string;
  readonly url: URL;
  readonly contentType: string | null;
  readonly body: string | undefined;
}

/** Where one request departs from the spec; its endpoint's name first. */
function checkRequest(request: Sent): { endpoint?: string; errors: string[] } {
  const where = `${request.method} ${request.url.pathname}`;
  const names = endpointsOf(request.method, request.url.pathname);
  if (names.length !== 1) {
    return { errors: [`${where}: is ${names.length} endpoints of the spec (${names})`] };
  }
  const endpoint = ENDPOINTS[names[0]];
  const errors: string[] = [];
  for (const [key, value] of request.url.searchParams) {
    const schema = endpoint.query[key];
    if (schema === undefined) errors.push(`${where}: query parameter '${key}' is not defined`);
    else errors.push(...conform(value, schema, `${where}?${key}`));
  }
  if (endpoint.body === undefined) {
    if (request.body !== undefined) errors.push(`${where}: sends a body the spec does not define`);
  } else if (request.body === undefined) {
    errors.push(`${where}: sends no body`);
  } else {
    if (request.contentType !== endpoint.body.mediaType) {
      errors.push(`${where}: content-type ${request.contentType}, not ${endpoint.body.mediaType}`);
    }
    if (endpoint.body.mediaType === MEDIA_NDJSON) errors.push(...checkBulkBody(request.body));
    else errors.push(...conform(JSON.parse(request.body), endpoint.body.schema!, where));
  }
  return { endpoint: names[0], errors };
}

// ---------------------------------------------------------------------------------------------
// A fake cluster: records requests, answers with spec-shaped bodies (checked before sending).

type Answer = { status: number; body?: unknown; schema?: Schema };
type Handler = (request: Sent, endpoint: string | undefined) => Answer;

function fakeCluster(handler: Handler) {
  const sent: Sent[] = [];
  const fetch = (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request: Sent = {
      method: init?.method ?? "GET",
      url: new URL(String(input)),
      contentType: new Headers(init?.headers).get("content-type"),
      body: init?.body === undefined || init?.body === null ? undefined : String(init.body),
    };
    sent.push(request);
    const answer = handler(request, checkRequest(request).endpoint);
    if (answer.body !== undefined) {
      const schema = answer.schema ?? (answer.status >= 400 ? ERROR_RESPONSE : undefined);
      assert.ok(schema, `no response schema for ${request.method} ${request.url.pathname}`);
      assert.deepEqual(conform(answer.body, schema), [], "the fake's answer is off-spec");
    }
    return Promise.resolve(
      new Response(
        answer.body === undefined || request.method === "HEAD" ? null : JSON.stringify(answer.body),
        { status: answer.status, headers: { "content-type": MEDIA_JSON } },
      ),
    );
  };
  const driver = elasticsearchSearch({ url: "http://es.test:9200", fetch: fetch as typeof fetch });
  /** Every request so far checked: none departs from the spec; their endpoints in order. */
  const verify = (): string[] => {
    const results = sent.map(checkRequest);
    assert.deepEqual(results.flatMap((r) => r.errors), []);
    return results.map((r) => r.endpoint!);
  };
  return { driver, sent, verify };
}

const SHARDS_OK = { total: 1, successful: 1, failed: 0 };

function ok(endpoint: string | undefined, body: unknown, status = 200): Answer {
  return { status, body, schema: ENDPOINTS[endpoint!].response };
}

function esError(status: number, type: string, reason: string | undefined): Answer {
  const cause = reason === undefined ? { type } : { type, reason };
  return { status, body: { error: { root_cause: [cause], ...cause }, status } };
}

function query(overrides: Partial<DriverQuery>): DriverQuery {
  return {
    text: "",
    terms: [],
    fields: [],
    operator: "or",
    filters: [],
    ranges: [],
    sort: [],
    from: 0,
    size: 10,
    ...overrides,
  };
}

function indexed(id: string, doc: Record<string, unknown>): IndexedDoc {
  return { id, doc, terms: {}, keys: {} };
}

const MAPPINGS = {
  content: "text",
  title: "text",
  room: "keyword",
  seq: "number",
  pinned: "boolean",
  sentAt: "date",
} as const;

// ---------------------------------------------------------------------------------------------

Deno.test("elasticsearch spec: the checks reject requests the spec does not define", () => {
  const at = (method: string, path: string, body?: unknown, contentType = MEDIA_JSON): Sent => ({
    method,
    url: new URL(`http://es.test:9200${path}`),
    contentType,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const line = (value: unknown) => JSON.stringify(value);
  const goodBulk = `${line({ index: { _index: "m", _id: "1" } })}\n${line({ a: 1 })}\n`;
  const cases: [string, Sent][] = [
    ["refresh=yes", at("POST", "/_bulk?refresh=yes", goodBulk, MEDIA_NDJSON)],
    ["unknown bulk parameter", at("POST", "/_bulk?refresh=true&flush=1", goodBulk, MEDIA_NDJSON)],
    ["bulk without final newline", at("POST", "/_bulk", goodBulk.trimEnd(), MEDIA_NDJSON)],
    ["bulk as json", at("POST", "/_bulk", goodBulk)],
    [
      "bulk index without source",
      at("POST", "/_bulk", `${line({ index: { _id: "1" } })}\n`, MEDIA_NDJSON),
    ],
    [
      "bulk unknown action",
      at("POST", "/_bulk", `${line({ upsert: { _id: "1" } })}\n{}\n`, MEDIA_NDJSON),
    ],
    [
      "bulk unknown metadata",
      at("POST", "/_bulk", `${line({ delete: { id: "1" } })}\n`, MEDIA_NDJSON),
    ],
    ["delete index with PUT mapping path", at("DELETE", "/m/_mapping")],
    ["search GET on _doc", at("POST", "/m/_doc/1", {})],
    ["HEAD with a body", at("HEAD", "/m", {})],
    ["track_score", at("POST", "/m/_search", { track_score: true })],
    ["size as string", at("POST", "/m/_search", { size: "10" })],
    [
      "type best_field",
      at("POST", "/m/_search", { query: { multi_match: { query: "a", type: "best_field" } } }),
    ],
    [
      "operator AND-ish",
      at("POST", "/m/_search", { query: { multi_match: { query: "a", operator: "all" } } }),
    ],
    [
      "multi_match without query",
      at("POST", "/m/_search", { query: { multi_match: { fields: ["a"] } } }),
    ],
    [
      "two queries in one container",
      at("POST", "/m/_search", { query: { bool: {}, terms: { a: [1] } } }),
    ],
    ["terms value not a list", at("POST", "/m/_search", { query: { terms: { a: "x" } } })],
    ["range bound as string", at("POST", "/m/_search", { query: { range: { a: { gte: "1" } } } })],
    [
      "range format other",
      at("POST", "/m/_search", { query: { range: { a: { gte: 1, format: "date" } } } }),
    ],
    ["sort order ascending", at("POST", "/m/_search", { sort: [{ a: { order: "ascending" } }] })],
    ["sort missing last", at("POST", "/m/_search", { sort: [{ a: { missing: "last" } }] })],
    [
      "_score sort with missing",
      at("POST", "/m/_search", { sort: [{ _score: { missing: "_last" } }] }),
    ],
    ["create with unknown key", at("PUT", "/m", { mapping: {} })],
    [
      "analyzer without tokenizer",
      at("PUT", "/m", { settings: { analysis: { analyzer: { k: { type: "custom" } } } } }),
    ],
    [
      "unknown filter",
      at("PUT", "/m", {
        settings: {
          analysis: { analyzer: { k: { type: "custom", tokenizer: "standard", filter: ["cjk"] } } },
        },
      }),
    ],
    ["dynamic no", at("PUT", "/m", { mappings: { dynamic: "no" } })],
    ["number type", at("PUT", "/m/_mapping", { properties: { a: { type: "number" } } })],
    ["put mapping wrapped", at("PUT", "/m/_mapping", { mappings: { properties: {} } })],
  ];
  for (const [name, request] of cases) {
    assert.notDeepEqual(checkRequest(request).errors, [], name);
  }
  // And the driver's own shapes, hand-written, pass: the checks are not rejecting everything.
  assert.deepEqual(
    checkRequest(at("POST", "/_bulk?refresh=false", goodBulk, MEDIA_NDJSON)).errors,
    [],
  );
  assert.deepEqual(checkRequest(at("HEAD", "/m")).errors, []);
  assert.deepEqual(conform({ error: { reason: "x" }, status: 400 }, ERROR_RESPONSE).length, 1);
  assert.deepEqual(conform({ hits: { hits: [{ _id: "1" }] } }, SEARCH_RESPONSE).length, 4);
  assert.match(SPEC_COMMIT, /^[0-9a-f]{40}$/);
});

Deno.test("elasticsearch spec: ensureIndex creates the index as indices.create defines it", async () => {
  const cluster = fakeCluster((_, endpoint) =>
    ok(endpoint, { acknowledged: true, shards_acknowledged: true, index: "messages" })
  );
  await cluster.driver.ensureIndex("messages", MAPPINGS);
  assert.deepEqual(cluster.verify(), ["indices.create"]);
  const [create] = cluster.sent;
  assert.equal(create.url.pathname, "/messages");
  const body = JSON.parse(create.body!);
  // The analyzer the text fields name is the one defined in settings.analysis.
  const analyzers = Object.keys(body.settings.analysis.analyzer);
  for (const [field, type] of Object.entries(MAPPINGS)) {
    if (type === "text") assert.ok(analyzers.includes(body.mappings.properties[field].analyzer));
    assert.ok(field in body.mappings.properties, field);
  }
});

Deno.test("elasticsearch spec: ensureIndex on an existing index reads indices.get_mapping and puts only new fields", async () => {
  const cluster = fakeCluster((request, endpoint) => {
    if (endpoint === "indices.create") {
      return esError(
        400,
        "resource_already_exists_exception",
        "index [messages/abc] already exists",
      );
    }
    if (endpoint === "indices.get_mapping") {
      // As Elasticsearch 8 answers: `dynamic` read back as a string.
      return ok(endpoint, {
        messages: {
          mappings: {
            dynamic: "false",
            properties: {
              kit_doc_id: { type: "keyword" },
              content: { type: "text", analyzer: "kit_text" },
              sentAt: { type: "date", format: "strict_date_optional_time||epoch_millis" },
            },
          },
        },
      });
    }
    assert.equal(request.url.pathname, "/messages/_mapping");
    return ok(endpoint, { acknowledged: true });
  });
  await cluster.driver.ensureIndex("messages", {
    content: "text",
    sentAt: "date",
    room: "keyword",
  });
  assert.deepEqual(cluster.verify(), [
    "indices.create",
    "indices.get_mapping",
    "indices.put_mapping",
  ]);
  assert.deepEqual(Object.keys(JSON.parse(cluster.sent[2].body!).properties), ["room"]);

  // A field whose type changed is refused before any put_mapping.
  const changed = fakeCluster((_, endpoint) =>
    endpoint === "indices.create"
      ? esError(400, "resource_already_exists_exception", "exists")
      : ok(endpoint, { messages: { mappings: { properties: { room: { type: "text" } } } } })
  );
  await assert.rejects(changed.driver.ensureIndex("messages", { room: "keyword" }));
  assert.deepEqual(changed.verify(), ["indices.create", "indices.get_mapping"]);
});

Deno.test("elasticsearch spec: bulk sends NDJSON as _bulk defines it and reads its items", async () => {
  for (const refresh of [true, false]) {
    const cluster = fakeCluster((request, endpoint) => {
      if (endpoint === "indices.exists") return { status: 200 };
      assert.equal(request.url.searchParams.get("refresh"), String(refresh));
      const item = (result: string, status: number, id: string) => ({
        _index: "messages",
        _id: id,
        _version: 1,
        result,
        _shards: SHARDS_OK,
        _seq_no: 0,
        _primary_term: 1,
        status,
      });
      return ok(endpoint, {
        took: 3,
        errors: false,
        items: [
          { index: item("created", 201, "1") },
          { index: item("updated", 200, "a/b") },
          { delete: item("deleted", 200, "2") },
          { delete: item("not_found", 404, "3") },
        ],
      });
    });
    const result = await cluster.driver.bulk("messages", [
      { op: "index", doc: indexed("1", { content: "hello", seq: 1 }) },
      { op: "index", doc: indexed("a/b", { content: '\n{"delete":{}}', room: "r" }) },
      { op: "delete", id: "2" },
      { op: "delete", id: "3" },
    ], refresh);
    assert.deepEqual(cluster.verify(), ["indices.exists", "bulk"]);
    assert.deepEqual(result, { indexed: 2, deleted: 1 });
    const lines = cluster.sent[1].body!.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 6);
    assert.deepEqual(lines[2], { index: { _index: "messages", _id: "a/b" } });
    assert.equal(lines[3].content, '\n{"delete":{}}');
  }
});

Deno.test("elasticsearch spec: bulk item failures are read as ErrorCause, whose reason is optional", async () => {
  const cluster = fakeCluster((_, endpoint) => {
    if (endpoint === "indices.exists") return { status: 200 };
    return ok(endpoint, {
      took: 1,
      errors: true,
      items: [
        { index: { _index: "messages", _id: "1", status: 201, result: "created" } },
        {
          index: {
            _index: "messages",
            _id: "2",
            status: 400,
            error: { type: "document_parsing_exception" },
          },
        },
      ],
    });
  });
  await assert.rejects(
    cluster.driver.bulk("messages", [
      { op: "index", doc: indexed("1", { seq: 1 }) },
      { op: "index", doc: indexed("2", { seq: "x" }) },
    ], false),
    (error: DriverError) =>
      error instanceof DriverError && error.operation === "bulk" &&
      /1 of 2 operations failed.*document_parsing_exception/.test(error.message),
  );
  cluster.verify();
});

Deno.test("elasticsearch spec: get reads GetResult and both 404 answers GetResponse defines", async () => {
  const cluster = fakeCluster((request, endpoint) => {
    const id = decodeURIComponent(request.url.pathname.split("/").pop()!);
    if (request.url.pathname.startsWith("/gone/")) {
      return esError(404, "index_not_found_exception", "no such index [gone]");
    }
    if (id === "missing") {
      return ok(endpoint, { _index: "messages", _id: id, found: false }, 404);
    }
    return ok(endpoint, {
      _index: "messages",
      _id: id,
      _version: 1,
      _seq_no: 0,
      _primary_term: 1,
      found: true,
      _source: { content: "hi", kit_doc_id: id },
    });
  });
  assert.deepEqual(await cluster.driver.get("messages", "a/b?c"), { content: "hi" });
  assert.equal(await cluster.driver.get("messages", "missing"), undefined);
  await assert.rejects(
    cluster.driver.get("gone", "1"),
    (error: DriverError) =>
      error instanceof DriverError && /index_not_found_exception/.test(error.message),
  );
  assert.deepEqual(cluster.verify(), ["get", "get", "get"]);
  assert.equal(cluster.sent[0].url.pathname, "/messages/_doc/a%2Fb%3Fc");
});

function searchAnswer(hits: Record<string, unknown>[], total = hits.length) {
  return {
    took: 2,
    timed_out: false,
    _shards: { ...SHARDS_OK, skipped: 0 },
    hits: { total: { value: total, relation: "eq" }, max_score: null, hits },
  };
}

Deno.test("elasticsearch spec: search sends a body _search defines, with every clause the driver builds", async () => {
  const bodies: Record<string, unknown>[] = [];
  const cluster = fakeCluster((request, endpoint) => {
    bodies.push(JSON.parse(request.body!));
    return ok(endpoint, searchAnswer([]));
  });
  const queries: DriverQuery[] = [
    query({
      text: "hello world",
      terms: ["hello", "world"],
      fields: ["content", "title"],
      operator: "and",
      filters: [
        { field: "room", values: ["r1", "r2"] },
        { field: "pinned", values: [true] },
        { field: "sentAt", values: [1_700_000_000_000] },
        { field: "seq", values: [1.5] },
      ],
      ranges: [
        // As es/query.ts builds them: every bound's key present, unset ones undefined.
        { field: "seq", gte: 1, gt: undefined, lte: undefined, lt: 10 },
        {
          field: "sentAt",
          gte: undefined,
          gt: 1_700_000_000_000,
          lte: 1_800_000_000_000,
          lt: undefined,
        },
      ],
      sort: [{ field: "sentAt", order: "desc" }, { field: "room", order: "asc" }],
      from: 20,
      size: 5,
    }),
    query({ text: "hi", terms: ["hi"], fields: ["content"] }),
    query({ filters: [{ field: "room", values: ["r1"] }] }),
  ];
  for (const q of queries) await cluster.driver.search("messages", MAPPINGS, q);
  assert.deepEqual(cluster.verify(), ["search", "search", "search"]);
  for (const request of cluster.sent) assert.equal(request.url.pathname, "/messages/_search");

  // The values the spec's enums allow are the ones asked for, and a date range says its format.
  const first = bodies[0] as {
    from: number;
    size: number;
    query: {
      bool: { filter: Record<string, Record<string, Record<string, unknown>>>[]; must: unknown[] };
    };
    sort: unknown[];
  };
  assert.equal(first.from, 20);
  assert.equal(first.size, 5);
  assert.deepEqual(first.query.bool.must, [{
    multi_match: {
      query: "hello world",
      fields: ["content", "title"],
      type: "best_fields",
      operator: "and",
    },
  }]);
  const ranges = first.query.bool.filter.filter((clause) => "range" in clause);
  assert.deepEqual(ranges.map((clause) => clause.range), [
    { seq: { gte: 1, lt: 10 } },
    { sentAt: { gt: 1_700_000_000_000, lte: 1_800_000_000_000, format: "epoch_millis" } },
  ]);
  assert.deepEqual(first.sort.slice(0, 2), [
    { sentAt: { order: "desc", missing: "_last" } },
    { room: { order: "asc", missing: "_last" } },
  ]);
  // Relevance: by _score, then the id field.
  assert.deepEqual((bodies[1] as { sort: unknown[] }).sort[0], { _score: { order: "desc" } });
  // track_total_hits true: HitsMetadata.total is then a TotalHits (not a long, not absent).
  for (const body of bodies) {
    assert.equal((body as { track_total_hits: unknown }).track_total_hits, true);
  }
});

Deno.test("elasticsearch spec: search reads HitsMetadata, _score being optional and nullable", async () => {
  const hits = [
    {
      _index: "messages",
      _id: "1",
      _score: 2.5,
      _source: { content: "a", kit_doc_id: "1" },
      sort: [1, "1"],
    },
    // Sorting by a field: Elasticsearch may send `_score: null`; the spec also allows it absent.
    {
      _index: "messages",
      _id: "2",
      _score: null,
      _source: { content: "b", kit_doc_id: "2" },
      sort: [2, "2"],
    },
    { _index: "messages", _id: "3", _source: { content: "c", kit_doc_id: "3" }, sort: [3, "3"] },
  ];
  const cluster = fakeCluster((_, endpoint) => ok(endpoint, searchAnswer(hits, 42)));
  const sorted = { sort: [{ field: "seq", order: "asc" as const }] };
  const withText = await cluster.driver.search(
    "messages",
    MAPPINGS,
    query({ text: "a", terms: ["a"], fields: ["content"], ...sorted }),
  );
  assert.equal(withText.total, 42);
  assert.deepEqual(withText.hits, [
    { id: "1", score: 2.5, doc: { content: "a" } },
    { id: "2", score: 0, doc: { content: "b" } },
    { id: "3", score: 0, doc: { content: "c" } },
  ]);
  const noText = await cluster.driver.search("messages", MAPPINGS, query(sorted));
  assert.deepEqual(noText.hits.map((hit) => hit.score), [0, 0, 0]);
  cluster.verify();
});

Deno.test("elasticsearch spec: errors are read as ErrorResponseBase, root_cause optional", async () => {
  const cluster = fakeCluster((request) => {
    if (request.method === "POST") {
      // A shard failure: the reason is in the root cause.
      return {
        status: 400,
        body: {
          error: {
            type: "search_phase_execution_exception",
            reason: "all shards failed",
            root_cause: [{ type: "query_shard_exception", reason: "failed to create query" }],
          },
          status: 400,
        },
      };
    }
    return { status: 503, body: { error: { type: "cluster_block_exception" }, status: 503 } };
  });
  await assert.rejects(
    cluster.driver.search("messages", MAPPINGS, query({})),
    (error: DriverError) =>
      error instanceof DriverError &&
      /search_phase_execution_exception: all shards failed; caused by query_shard_exception: failed to create query/
        .test(error.message),
  );
  await assert.rejects(
    cluster.driver.ping(),
    (error: DriverError) =>
      error instanceof DriverError && /503 cluster_block_exception/.test(error.message),
  );
  assert.deepEqual(cluster.verify(), ["search", "info"]);
});

Deno.test("elasticsearch spec: dropIndex, the existence check and ping use indices.delete, indices.exists and info", async () => {
  const cluster = fakeCluster((request, endpoint) => {
    if (endpoint === "indices.exists") return { status: 404 };
    if (endpoint === "indices.delete") {
      return request.url.pathname === "/gone"
        ? esError(404, "index_not_found_exception", "no such index [gone]")
        : ok(endpoint, { acknowledged: true });
    }
    return ok(endpoint, {
      name: "node-1",
      cluster_name: "docker-cluster",
      cluster_uuid: "k2Y5uQ",
      version: { number: "8.15.0" },
      tagline: "You Know, for Search",
    });
  });
  await cluster.driver.dropIndex("messages");
  await cluster.driver.dropIndex("gone");
  await cluster.driver.ping();
  await assert.rejects(
    cluster.driver.bulk("messages", [{ op: "delete", id: "1" }], false),
    (error: DriverError) => error instanceof DriverError && /does not exist/.test(error.message),
  );
  assert.deepEqual(cluster.verify(), [
    "indices.delete",
    "indices.delete",
    "info",
    "indices.exists",
  ]);
});
