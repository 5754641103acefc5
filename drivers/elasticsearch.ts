/**
 * The Elasticsearch driver of es, over Elasticsearch's REST API with `fetch`
 * (no client library): one shard per index, text fields analyzed with the
 * standard tokenizer, `cjk_width`, `lowercase` and `cjk_bigram` (the kit's own
 * analyzer mirrors this), `best_fields` multi-match for full text, filters
 * and ranges in filter context.
 *
 * Not yet run against an Elasticsearch server: its conformance suite runs
 * when `KIT_ES_URL` is set (`docker compose up -d elasticsearch`).
 *
 * @example Cluster mode
 * ```ts ignore
 * import { es } from "@gochat/kit";
 * import { elasticsearchSearch } from "@gochat/kit/drivers/elasticsearch";
 *
 * await using search = await es.create({ ...es.defaultConfig("production"), keyPrefix: "im-task-" }, {
 *   driver: elasticsearchSearch({ url: "http://127.0.0.1:9200" }),
 * });
 * ```
 *
 * @module
 */
import type { BulkResult, Doc, FieldType, SearchResult } from "../es/mod.ts";
import type { DriverQuery, IndexedDoc, SearchDriver } from "../es/driver.ts";
import { DriverError } from "../es/mod.ts";
import { mergeMappings } from "../es/driver.ts";
import { checkConfig } from "../internal/config.ts";
import { driverError } from "../internal/errors.ts";
import { redactMalformedUrl } from "../internal/redact.ts";

/** Options of {@linkcode elasticsearchSearch}. */
export interface ElasticsearchSearchOptions {
  /**
   * Base URL of the cluster, such as `http://127.0.0.1:9200`. Credentials in it
   * (`http://user:password@host:9200`) are sent as `Authorization: Basic …`, never as part of a URL.
   */
  readonly url: string;
  /** Sent as `Authorization`: `ApiKey …` or `Basic …`; takes precedence over credentials in `url`. */
  readonly authorization?: string;
  /**
   * Time limit of one request.
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /** The fetch to use (a proxy, a test double); the global one by default. */
  readonly fetch?: typeof fetch;
}

/** The field holding the document id for the id tie-break of sorting (not in returned docs). */
const ID_FIELD = "kit_doc_id";

const FIELD_MAPPINGS: Record<FieldType, Record<string, unknown>> = {
  text: { type: "text", analyzer: "kit_text" },
  keyword: { type: "keyword" },
  number: { type: "double" },
  boolean: { type: "boolean" },
  date: { type: "date", format: "strict_date_optional_time||epoch_millis" },
};

interface EsError {
  readonly status: number;
  readonly type: string;
  readonly reason: string;
}

/** A URL component decoded, or as it is when it is not valid percent-encoding. */
function decoded(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

/** The secrets an `Authorization` value holds: itself, its token, and a Basic token's password. */
function authorizationSecrets(authorization: string): string[] {
  const token = authorization.replace(/^\S+\s+/, "");
  const secrets = [authorization, token];
  if (/^basic\s/i.test(authorization)) {
    try {
      secrets.push(atob(token).replace(/^[^:]*:/, ""));
    } catch {
      // not base64: the token itself is the secret
    }
  }
  return secrets.filter((secret) => secret.length > 0);
}

class ElasticsearchSearch implements SearchDriver {
  readonly name = "elasticsearch";
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  /** Redacted from every error: the password and the `Authorization` value. */
  readonly #secrets: readonly string[];

  constructor(options: ElasticsearchSearchOptions) {
    const url = typeof options?.url === "string" && /^https?:\/\//.test(options.url)
      ? URL.parse(options.url)
      : null;
    if (url === null) {
      throw new TypeError(
        `Cannot create elasticsearch search as 'url' must be an http(s) URL: current value is ${
          JSON.stringify(
            typeof options?.url === "string" ? redactMalformedUrl(options.url) : options?.url,
          )
        }`,
      );
    }
    let authorization = options.authorization;
    const password = url.password;
    if (url.username || password) {
      // A URL with credentials would carry them into every request's URL, and so into errors.
      const pair = new TextEncoder().encode(`${decoded(url.username)}:${decoded(password)}`);
      authorization ??= `Basic ${btoa(String.fromCharCode(...pair))}`;
      url.username = url.password = "";
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.#headers = { "content-type": "application/json" };
    if (authorization) this.#headers.authorization = authorization;
    this.#secrets = [
      ...(authorization ? authorizationSecrets(authorization) : []),
      ...[password, decoded(password)].filter(Boolean),
    ];
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** A `DriverError` whose cause holds no credential (see `scrubError`). */
  #fail(operation: string, error: unknown): DriverError {
    return driverError(this.name, operation, error, this.#secrets);
  }

  /** One request; an answer of 400 or more becomes an {@linkcode EsError} unless `allowed`. */
  async #request(
    operation: string,
    method: string,
    path: string,
    body?: unknown,
    allowed: (error: EsError) => boolean = () => false,
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    let response: Response;
    try {
      response = await this.#fetch(`${this.#base}${path}`, {
        method,
        headers: typeof body === "string"
          ? { ...this.#headers, "content-type": "application/x-ndjson" }
          : this.#headers,
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      throw this.#fail(operation, error);
    }
    const text = await response.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      // HEAD and some errors have no JSON body.
    }
    if (response.status >= 400) {
      type Cause = { type?: string; reason?: string; root_cause?: Cause[] };
      const cause = (json.error ?? {}) as Cause;
      // Shard failures say only "all shards failed"; the reason is in the root cause.
      const root = cause.root_cause?.[0];
      const error: EsError = {
        status: response.status,
        type: cause.type ?? `http_${response.status}`,
        reason: [
          cause.reason ?? text.slice(0, 200),
          root?.reason && `caused by ${root.type}: ${root.reason}`,
        ]
          .filter(Boolean).join("; "),
      };
      if (!allowed(error)) {
        // The body is the server's (or a proxy's) text: it may echo what the request sent.
        throw this.#fail(operation, new Error(`${error.status} ${error.type}: ${error.reason}`));
      }
    }
    return { status: response.status, json };
  }

  async #requireIndex(index: string, operation: string): Promise<void> {
    const { status } = await this.#request(
      operation,
      "HEAD",
      `/${index}`,
      undefined,
      (e) => e.status === 404,
    );
    if (status === 404) {
      throw new DriverError(this.name, operation, new Error(`index '${index}' does not exist`));
    }
  }

  async ensureIndex(index: string, mappings: Readonly<Record<string, FieldType>>): Promise<void> {
    const properties: Record<string, unknown> = { [ID_FIELD]: { type: "keyword" } };
    for (const [field, type] of Object.entries(mappings)) properties[field] = FIELD_MAPPINGS[type];
    const { status } = await this.#request("ensureIndex", "PUT", `/${index}`, {
      settings: {
        number_of_shards: 1,
        analysis: {
          analyzer: {
            kit_text: {
              type: "custom",
              tokenizer: "standard",
              filter: ["cjk_width", "lowercase", "cjk_bigram"],
            },
          },
        },
      },
      mappings: { dynamic: false, properties },
    }, (error) => error.type === "resource_already_exists_exception");
    if (status < 400) return;
    // The index exists: a field's type may not change; new fields are added to its mapping.
    const { json } = await this.#request("ensureIndex", "GET", `/${index}/_mapping`);
    const existing: Record<string, FieldType> = {};
    const had = ((json[index] as { mappings?: { properties?: Record<string, { type?: string }> } })
      ?.mappings?.properties) ?? {};
    for (const [field, { type }] of Object.entries(had)) {
      const kind = (Object.keys(FIELD_MAPPINGS) as FieldType[]).find((k) =>
        FIELD_MAPPINGS[k].type === type
      );
      if (kind && field !== ID_FIELD) existing[field] = kind;
    }
    mergeMappings(index, existing, mappings);
    const added = Object.keys(mappings).filter((field) => !(field in existing));
    if (added.length > 0) {
      await this.#request("ensureIndex", "PUT", `/${index}/_mapping`, {
        properties: Object.fromEntries(
          added.map((field) => [field, FIELD_MAPPINGS[mappings[field]]]),
        ),
      });
    }
  }

  async bulk(
    index: string,
    items: readonly ({ op: "index"; doc: IndexedDoc } | { op: "delete"; id: string })[],
    refresh: boolean,
  ): Promise<BulkResult> {
    await this.#requireIndex(index, "bulk");
    const lines: string[] = [];
    for (const item of items) {
      if (item.op === "index") {
        lines.push(
          JSON.stringify({ index: { _index: index, _id: item.doc.id } }),
          JSON.stringify({ ...item.doc.doc, [ID_FIELD]: item.doc.id }),
        );
      } else lines.push(JSON.stringify({ delete: { _index: index, _id: item.id } }));
    }
    const { json } = await this.#request(
      "bulk",
      "POST",
      `/_bulk?refresh=${refresh ? "true" : "false"}`,
      `${lines.join("\n")}\n`,
    );
    let indexed = 0;
    let deleted = 0;
    const failures: string[] = [];
    for (
      const entry of json.items as Record<
        string,
        { status: number; result?: string; error?: { type: string; reason: string } }
      >[]
    ) {
      const [op, outcome] = Object.entries(entry)[0];
      if (outcome.error) failures.push(`${op}: ${outcome.error.type}: ${outcome.error.reason}`);
      else if (op === "index") indexed++;
      else if (op === "delete" && outcome.result === "deleted") deleted++;
    }
    if (failures.length > 0) {
      throw new DriverError(
        this.name,
        "bulk",
        new Error(
          `${failures.length} of ${items.length} operations failed (the others applied): ${
            failures[0]
          }`,
        ),
      );
    }
    return { indexed, deleted };
  }

  async get(index: string, id: string): Promise<Doc | undefined> {
    const { status, json } = await this.#request(
      "get",
      "GET",
      `/${index}/_doc/${encodeURIComponent(id)}`,
      undefined,
      (error) => error.status === 404 && error.type === "http_404",
    );
    if (status === 404 || json.found !== true) return undefined;
    return withoutId(json._source as Doc);
  }

  async search(
    index: string,
    mappings: Readonly<Record<string, FieldType>>,
    query: DriverQuery,
  ): Promise<SearchResult<Doc>> {
    // No text field to match in: nothing matches (multi_match would fall back to every field).
    if (query.terms.length > 0 && query.fields.length === 0) return { total: 0, hits: [] };
    const filter: unknown[] = [];
    for (const { field, values } of query.filters) filter.push({ terms: { [field]: values } });
    for (const { field, ...bounds } of query.ranges) {
      const range: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(bounds)) {
        if (value !== undefined) range[key] = value;
      }
      if (mappings[field] === "date") range.format = "epoch_millis";
      filter.push({ range: { [field]: range } });
    }
    const bool: Record<string, unknown> = { filter };
    if (query.terms.length > 0) {
      bool.must = [{
        multi_match: {
          query: query.text,
          fields: query.fields,
          type: "best_fields",
          operator: query.operator,
        },
      }];
    }
    const sort = query.sort.length === 0
      ? [{ _score: { order: "desc" } }, { [ID_FIELD]: { order: "asc" } }]
      : [
        ...query.sort.map(({ field, order }) => ({ [field]: { order, missing: "_last" } })),
        { [ID_FIELD]: { order: "asc" } },
      ];
    const { json } = await this.#request("search", "POST", `/${index}/_search`, {
      from: query.from,
      size: query.size,
      track_total_hits: true,
      track_scores: true,
      query: { bool },
      sort,
    });
    const hits = json.hits as {
      total: { value: number };
      hits: { _id: string; _score: number | null; _source: Doc }[];
    };
    return {
      total: hits.total.value,
      hits: hits.hits.map((hit) => ({
        id: hit._id,
        score: query.terms.length === 0 ? 0 : hit._score ?? 0,
        doc: withoutId(hit._source),
      })),
    };
  }

  async dropIndex(index: string): Promise<void> {
    await this.#request(
      "dropIndex",
      "DELETE",
      `/${index}`,
      undefined,
      (error) => error.type === "index_not_found_exception",
    );
  }

  async ping(): Promise<void> {
    await this.#request("ping", "GET", "/");
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function withoutId(source: Doc): Doc {
  const { [ID_FIELD]: _, ...doc } = source;
  return doc;
}

/**
 * Creates the Elasticsearch search driver.
 *
 * @param options The cluster's URL, credentials, request time limit.
 * @returns The driver.
 * @throws {TypeError} When `url` is not an http(s) URL, or on an unknown option.
 */
export function elasticsearchSearch(options: ElasticsearchSearchOptions): SearchDriver {
  checkConfig("elasticsearchSearch", options, ["url", "authorization", "timeoutMs", "fetch"], {
    argument: "options",
    noun: "option",
  });
  return new ElasticsearchSearch(options);
}
