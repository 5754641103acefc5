/**
 * Search index types and the driver interface. The provider validates and
 * normalizes documents and queries; drivers store and rank.
 *
 * @module
 */

/**
 * How a field is indexed: `text` is analyzed for full-text search; `keyword` (exact strings),
 * `number`, `boolean` and `date` (ISO-8601 text or epoch ms) can be filtered and sorted on.
 */
export type FieldType = "text" | "keyword" | "number" | "boolean" | "date";

/** A document: a JSON object. */
export type Doc = Record<string, unknown>;

/** The indexed fields of a document type; fields not listed are stored but not indexed. */
export type Mappings<T extends Doc> = { readonly [K in keyof T & string]?: FieldType };

/** A value a filter matches exactly. */
export type FilterValue = string | number | boolean;

/** Bounds of a range filter; dates as ISO-8601 text or epoch ms. */
export interface Range {
  /** Greater than or equal. */
  readonly gte?: number | string;
  /** Greater than. */
  readonly gt?: number | string;
  /** Less than or equal. */
  readonly lte?: number | string;
  /** Less than. */
  readonly lt?: number | string;
}

/** A search. Every part is optional; no `text` matches every document the filters let through. */
export interface SearchQuery<T extends Doc> {
  /** Full-text query, analyzed like the documents' text fields. */
  readonly text?: string;
  /**
   * The text fields to match `text` in; a document scores by its best field.
   * @default {every text field}
   */
  readonly fields?: readonly (keyof T & string)[];
  /**
   * `or`: a document matches with any term; `and`: one of its fields has every term.
   * @default {"or"}
   */
  readonly operator?: "or" | "and";
  /** Exact matches on keyword, number, boolean or date fields; a list matches any of its values. */
  readonly filter?: { readonly [K in keyof T & string]?: FilterValue | readonly FilterValue[] };
  /** Ranges on number or date fields. */
  readonly range?: { readonly [K in keyof T & string]?: Range };
  /**
   * Order of the hits; ties go by id.
   * @default {by score, highest first}
   */
  readonly sort?: readonly { readonly field: keyof T & string; readonly order?: "asc" | "desc" }[];
  /**
   * Hits to skip.
   * @default {0}
   */
  readonly from?: number;
  /**
   * Hits to return, at most 10,000 with `from`.
   * @default {10}
   */
  readonly size?: number;
}

/** One hit. */
export interface SearchHit<T extends Doc> {
  /** The document's id. */
  readonly id: string;
  /** BM25 relevance (0 without `text`). */
  readonly score: number;
  /** The document as stored. */
  readonly doc: T;
}

/** The result of a search. */
export interface SearchResult<T extends Doc> {
  /** Documents that matched, over all pages. */
  readonly total: number;
  /** The page asked for. */
  readonly hits: SearchHit<T>[];
}

/** One operation of a bulk request. */
export type BulkItem<T extends Doc> =
  | { readonly op: "index"; readonly id: string; readonly doc: T }
  | { readonly op: "delete"; readonly id: string };

/** What a bulk request did. */
export interface BulkResult {
  /** Documents written (created or replaced). */
  readonly indexed: number;
  /** Documents deleted (ids that had none are not counted). */
  readonly deleted: number;
}

/** A document as drivers receive it: checked, with its text analyzed and its keys normalized. */
export interface IndexedDoc {
  /** The id. */
  readonly id: string;
  /** The document as given, to store. */
  readonly doc: Doc;
  /** Terms of each text field, repeats kept (the memory and PostgreSQL drivers rank on them). */
  readonly terms: Readonly<Record<string, readonly string[]>>;
  /** Values of the keyword, number, boolean and date fields (dates as epoch ms). */
  readonly keys: Readonly<Record<string, FilterValue>>;
}

/** A search as drivers receive it: checked and normalized. */
export interface DriverQuery {
  /** The query text as given (Elasticsearch analyzes it itself). */
  readonly text: string;
  /** Distinct terms of `text`, from the kit's analyzer. */
  readonly terms: readonly string[];
  /** Text fields to match in. */
  readonly fields: readonly string[];
  /** `or` or `and`. */
  readonly operator: "or" | "and";
  /** Exact filters: a field and the values it may have (dates as epoch ms). */
  readonly filters: readonly { readonly field: string; readonly values: readonly FilterValue[] }[];
  /** Range filters, bounds as numbers (dates as epoch ms). */
  readonly ranges: readonly {
    readonly field: string;
    readonly gte?: number;
    readonly gt?: number;
    readonly lte?: number;
    readonly lt?: number;
  }[];
  /** Sort keys; empty for relevance. */
  readonly sort: readonly { readonly field: string; readonly order: "asc" | "desc" }[];
  /** Hits to skip. */
  readonly from: number;
  /** Hits to return. */
  readonly size: number;
}

/** A search backend. */
export interface SearchDriver {
  /** Name for errors and logs: `memory`, `postgres`, `elasticsearch`. */
  readonly name: string;
  /** Creates the index if it does not exist; its mappings are checked by the provider. */
  ensureIndex(index: string, mappings: Readonly<Record<string, FieldType>>): Promise<void>;
  /** Applies index and delete operations, in order; `refresh` makes them visible to search now. */
  bulk(
    index: string,
    items: readonly ({ op: "index"; doc: IndexedDoc } | { op: "delete"; id: string })[],
    refresh: boolean,
  ): Promise<BulkResult>;
  /** A stored document, or undefined. */
  get(index: string, id: string): Promise<Doc | undefined>;
  /** Runs a search. */
  search(
    index: string,
    mappings: Readonly<Record<string, FieldType>>,
    query: DriverQuery,
  ): Promise<SearchResult<Doc>>;
  /** Deletes the index and its documents. */
  dropIndex(index: string): Promise<void>;
  /** Checks that the backend answers; rejects with a `DriverError` when it does not. */
  ping(): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** An index opened with a field type other than the one the index already has for that field. */
export class MappingConflictError extends TypeError {
  /** Stable code. */
  readonly code = "ES_MAPPING_CONFLICT";
  /** The index. */
  readonly index: string;
  /** The field. */
  readonly field: string;

  /**
   * Creates the error.
   *
   * @param index The index.
   * @param field The field.
   * @param existing Its type in the index.
   * @param wanted The type asked for.
   */
  constructor(index: string, field: string, existing: FieldType, wanted: FieldType) {
    super(
      `Cannot open index '${index}' as field '${field}' is ${existing} there, not ${wanted}: a field's type cannot change (create another index and write the documents again)`,
    );
    this.name = "MappingConflictError";
    this.index = index;
    this.field = field;
  }
}

/**
 * The mappings an index has after it is opened with `wanted`: its own, plus the new fields.
 * Documents written before a field was added are not indexed on it until written again.
 *
 * @param index The index, for the error.
 * @param existing What the index has.
 * @param wanted What the caller opens it with.
 * @returns The merged mappings.
 * @throws {MappingConflictError} When a field's type would change.
 */
export function mergeMappings(
  index: string,
  existing: Readonly<Record<string, FieldType>>,
  wanted: Readonly<Record<string, FieldType>>,
): Record<string, FieldType> {
  for (const [field, type] of Object.entries(wanted)) {
    const had = existing[field];
    if (had !== undefined && had !== type) throw new MappingConflictError(index, field, had, type);
  }
  return { ...existing, ...wanted };
}
