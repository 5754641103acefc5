/**
 * The SQL search driver: an inverted index in four tables of a kit db provider, ranked with
 * BM25 in SQL, the same scores as the memory driver. Pure TypeScript over any kit `Db`
 * (PostgreSQL or PGlite), so it loads no client library of its own.
 *
 * @module
 */
import {
  type Db,
  DriverError,
  fragment,
  type Identifier,
  identifier,
  type Queryable,
  type SqlFragment,
} from "../db/mod.ts";
import { checkConfig } from "../internal/config.ts";
import { BM25_B, BM25_K1 } from "./memory.ts";
import {
  type BulkResult,
  type Doc,
  type DriverQuery,
  type FieldType,
  type IndexedDoc,
  MappingConflictError,
  mergeMappings,
  type SearchDriver,
  type SearchResult,
} from "./types.ts";

/** Options of {@linkcode sqlSearch}. */
export interface SqlSearchOptions {
  /**
   * A db provider of the application (PostgreSQL, or PGlite in process), which the driver does
   * not close; or a function that opens one on first use, which the driver closes with itself.
   */
  readonly db: Db | (() => Promise<Db>);
  /**
   * Prefix of the driver's four tables (`<prefix>_indexes`, `_docs`, `_terms`, `_lengths`),
   * created on first use.
   * @default {"kit_search"}
   */
  readonly tablePrefix?: string;
}

type SearchItem = { op: "index"; doc: IndexedDoc } | { op: "delete"; id: string };

/** The driver's tables. */
interface Tables {
  readonly indexes: Identifier;
  readonly docs: Identifier;
  readonly terms: Identifier;
  readonly lengths: Identifier;
}

/** Search in SQL: an inverted index in tables, ranked with BM25 like the memory driver. */
class SqlSearch implements SearchDriver {
  // The SQL is PostgreSQL's (PGlite runs it too), and errors have always named it so.
  readonly name = "postgres";
  readonly #open: () => Promise<Db>;
  readonly #owned: boolean;
  #db: Promise<Db> | undefined;
  #schema: Promise<void> | undefined;
  readonly #t: Tables;

  constructor(options: SqlSearchOptions) {
    checkConfig("sqlSearch", options, ["db", "tablePrefix"], {
      argument: "options",
      noun: "option",
    });
    const prefix = options.tablePrefix ?? "kit_search";
    if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) {
      throw new TypeError(
        `Cannot create postgres search as 'tablePrefix' must be lowercase letters, digits and '_': current value is ${
          JSON.stringify(prefix)
        }`,
      );
    }
    const given = options.db;
    if (given === null || (typeof given !== "object" && typeof given !== "function")) {
      throw new TypeError(
        `Cannot create sqlSearch as 'db' must be a kit db provider or a function that opens one: current value is ${given}`,
      );
    }
    this.#owned = typeof given === "function";
    this.#open = typeof given === "function" ? given : () => Promise.resolve(given);
    this.#t = {
      indexes: identifier(`${prefix}_indexes`),
      docs: identifier(`${prefix}_docs`),
      terms: identifier(`${prefix}_terms`),
      lengths: identifier(`${prefix}_lengths`),
    };
  }

  /** The provider, opened on first use; the tables, created once per driver. */
  async #ready(): Promise<Db> {
    const opening = this.#db ??= this.#open();
    let database: Db;
    try {
      database = await opening;
    } catch (error) {
      if (this.#db === opening) this.#db = undefined; // the next call tries again
      throw error;
    }
    const t = this.#t;
    this.#schema ??= database.transaction(async (tx) => {
      // Concurrent `create table if not exists` can collide in the catalog: one at a time.
      await tx.sql`select pg_advisory_xact_lock(hashtext(${t.docs.quoted}))`;
      await tx.sql`create table if not exists ${t.indexes} (
        name text primary key, mappings jsonb not null)`;
      await tx.sql`create table if not exists ${t.docs} (
        index text not null, id text not null, doc jsonb not null, keys jsonb not null,
        primary key (index, id))`;
      await tx.sql`create table if not exists ${t.terms} (
        index text not null, field text not null, term text not null, id text not null,
        tf int not null, primary key (index, field, term, id))`;
      await tx.sql`create table if not exists ${t.lengths} (
        index text not null, field text not null, id text not null, len int not null,
        primary key (index, field, id))`;
    }).catch((error) => {
      this.#schema = undefined;
      throw error;
    });
    await this.#schema;
    return database;
  }

  /** Runs `fn`, with failures as a DriverError naming the operation. */
  async #run<T>(operation: string, fn: (database: Db) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.#ready());
    } catch (error) {
      if (error instanceof DriverError && error.driver === this.name) throw error;
      if (error instanceof MappingConflictError) throw error; // the caller's, not the backend's
      throw new DriverError(this.name, operation, error);
    }
  }

  async #requireIndex(queryable: Queryable, index: string, operation: string): Promise<void> {
    const found = await queryable.sql`select 1 from ${this.#t.indexes} where name = ${index}`;
    if (found.length === 0) {
      throw new DriverError(this.name, operation, new Error(`index '${index}' does not exist`));
    }
  }

  ensureIndex(index: string, mappings: Readonly<Record<string, FieldType>>): Promise<void> {
    return this.#run("ensureIndex", (database) =>
      database.transaction(async (tx) => {
        // One opener at a time: `for update` locks nothing while the row does not exist yet.
        await tx
          .sql`select pg_advisory_xact_lock(hashtext(${`${this.#t.indexes.quoted}:${index}`}))`;
        const [row] = await tx.sql<{ mappings: Record<string, FieldType> }>`
          select mappings from ${this.#t.indexes} where name = ${index}`;
        const merged = row ? mergeMappings(index, row.mappings, mappings) : mappings;
        await tx.sql`insert into ${this.#t.indexes} (name, mappings)
          values (${index}, ${JSON.stringify(merged)}::text::jsonb)
          on conflict (name) do update set mappings = excluded.mappings`;
      }));
  }

  bulk(index: string, items: readonly SearchItem[]): Promise<BulkResult> {
    return this.#run("bulk", (database) =>
      database.transaction(async (tx) => {
        await this.#requireIndex(tx, index, "bulk");
        const t = this.#t;
        const touched = [
          ...new Set(items.map((item) => item.op === "index" ? item.doc.id : item.id)),
        ];
        // Bulks touching the same ids run one after another: without the locks two inserts of a
        // new id collide on the key. Taken in sorted order, so two bulks cannot deadlock.
        // Ordered by the lock keys themselves (two ids can share a hash), so no two bulks wait on
        // each other in opposite orders.
        await tx.sql`select pg_advisory_xact_lock(k) from (
          select distinct hashtext(${index} || ':' || id) as k from unnest(${touched}::text[]) as id
          order by k) ordered`;
        const existing = new Set(
          (await tx.sql<{ id: string }>`select id from ${t.docs}
            where index = ${index} and id = any(${touched}::text[])`).map((row) => row.id),
        );
        const { docs, indexed, deleted } = finalState(items, existing);
        for (const table of [t.terms, t.lengths, t.docs]) {
          await tx
            .sql`delete from ${table} where index = ${index} and id = any(${touched}::text[])`;
        }
        if (docs.length > 0) await insertDocs(tx, t, index, docs);
        return { indexed, deleted };
      }));
  }

  get(index: string, id: string): Promise<Doc | undefined> {
    return this.#run("get", async (database) => {
      const reader = database.reader();
      await this.#requireIndex(reader, index, "get");
      const [row] = await reader.sql<{ doc: Doc }>`select doc from ${this.#t.docs}
        where index = ${index} and id = ${id}`;
      return row?.doc;
    });
  }

  search(
    index: string,
    mappings: Readonly<Record<string, FieldType>>,
    query: DriverQuery,
  ): Promise<SearchResult<Doc>> {
    return this.#run("search", async (database) => {
      const reader = database.reader();
      await this.#requireIndex(reader, index, "search");
      const matches = matching(this.#t, index, mappings, query);
      const rows = await reader.sql<
        { id: string; score: number; doc: Doc; total: number | bigint }
      >`
        select m.id, m.score, m.doc, count(*) over () as total from (${matches}) m
        order by ${ordering(mappings, query)}
        offset ${query.from} limit ${query.size}`;
      let total = rows.length > 0 ? Number(rows[0].total) : 0;
      if (rows.length === 0 && (query.from > 0 || query.size === 0)) {
        const [count] = await reader.sql<{ total: number | bigint }>`
          select count(*) as total from (${matches}) m`;
        total = Number(count.total);
      }
      return { total, hits: rows.map(({ id, score, doc }) => ({ id, score: Number(score), doc })) };
    });
  }

  dropIndex(index: string): Promise<void> {
    return this.#run("dropIndex", (database) =>
      database.transaction(async (tx) => {
        const t = this.#t;
        for (const table of [t.terms, t.lengths, t.docs]) {
          await tx.sql`delete from ${table} where index = ${index}`;
        }
        await tx.sql`delete from ${t.indexes} where name = ${index}`;
      }));
  }

  ping(): Promise<void> {
    return this.#run("ping", (database) => database.ping());
  }

  async close(): Promise<void> {
    const opening = this.#db;
    this.#db = undefined;
    if (this.#owned) await (await opening?.catch(() => undefined))?.close();
  }
}

/** A bulk's operations applied in order to the ids that exist: the documents to write, and counts. */
function finalState(
  items: readonly SearchItem[],
  existing: Set<string>,
): { docs: IndexedDoc[]; indexed: number; deleted: number } {
  const final = new Map<string, IndexedDoc | null>();
  let indexed = 0;
  let deleted = 0;
  for (const item of items) {
    if (item.op === "index") {
      indexed++;
      existing.add(item.doc.id);
      final.set(item.doc.id, item.doc);
    } else {
      if (existing.delete(item.id)) deleted++;
      final.set(item.id, null);
    }
  }
  const docs = [...final.values()].filter((doc): doc is IndexedDoc => doc !== null);
  return { docs, indexed, deleted };
}

/** Writes documents with their term frequencies and field lengths (their old rows are gone). */
async function insertDocs(
  tx: Queryable,
  t: Tables,
  index: string,
  docs: readonly IndexedDoc[],
): Promise<void> {
  await tx.sql`insert into ${t.docs} (index, id, doc, keys)
    select ${index}, i, d::jsonb, k::jsonb
    from unnest(${docs.map((doc) => doc.id)}::text[], ${
    docs.map((doc) => JSON.stringify(doc.doc))
  }::text[], ${docs.map((doc) => JSON.stringify(doc.keys))}::text[]) as u(i, d, k)`;
  const terms = {
    field: [] as string[],
    term: [] as string[],
    id: [] as string[],
    tf: [] as string[],
  };
  const lengths = { field: [] as string[], id: [] as string[], len: [] as string[] };
  for (const doc of docs) {
    for (const [field, list] of Object.entries(doc.terms)) {
      if (list.length === 0) continue;
      lengths.field.push(field);
      lengths.id.push(doc.id);
      lengths.len.push(String(list.length));
      const counts = new Map<string, number>();
      for (const term of list) counts.set(term, (counts.get(term) ?? 0) + 1);
      for (const [term, tf] of counts) {
        terms.field.push(field);
        terms.term.push(term);
        terms.id.push(doc.id);
        terms.tf.push(String(tf));
      }
    }
  }
  if (lengths.id.length === 0) return;
  await tx.sql`insert into ${t.lengths} (index, field, id, len)
    select ${index}, f, i, l::int
    from unnest(${lengths.field}::text[], ${lengths.id}::text[], ${lengths.len}::text[])
      as u(f, i, l)`;
  await tx.sql`insert into ${t.terms} (index, field, term, id, tf)
    select ${index}, f, w, i, c::int
    from unnest(${terms.field}::text[], ${terms.term}::text[], ${terms.id}::text[], ${terms.tf}::text[])
      as u(f, w, i, c)`;
}

/** The query's filters and ranges as one condition on the documents `d`. */
function conditions(
  index: string,
  mappings: Readonly<Record<string, FieldType>>,
  query: DriverQuery,
): SqlFragment {
  const all: SqlFragment[] = [fragment`d.index = ${index}`];
  const typed = (field: string) =>
    mappings[field] === "keyword"
      ? fragment`(d.keys ->> ${field})`
      : mappings[field] === "boolean"
      ? fragment`(d.keys ->> ${field})::boolean`
      : fragment`(d.keys ->> ${field})::float8`;
  for (const { field, values } of query.filters) {
    // Sent as text[] and cast on the server: a typed array parameter is serialized by the
    // client library's own rules (postgres.js turned the text 'true' into false).
    const cast = mappings[field] === "keyword"
      ? fragment`::text[]`
      : mappings[field] === "boolean"
      ? fragment`::text[]::boolean[]`
      : fragment`::text[]::float8[]`;
    all.push(fragment`${typed(field)} = any(${values.map(String)}${cast})`);
  }
  for (const { field, gte, gt, lte, lt } of query.ranges) {
    const value = typed(field);
    if (gte !== undefined) all.push(fragment`${value} >= ${gte}::float8`);
    if (gt !== undefined) all.push(fragment`${value} > ${gt}::float8`);
    if (lte !== undefined) all.push(fragment`${value} <= ${lte}::float8`);
    if (lt !== undefined) all.push(fragment`${value} < ${lt}::float8`);
  }
  return all.reduce((joined, one) => fragment`${joined} and ${one}`);
}

/** The matching documents (`id`, BM25 `score`, `doc`, `keys`); every one scores 0 without terms. */
function matching(
  t: Tables,
  index: string,
  mappings: Readonly<Record<string, FieldType>>,
  query: DriverQuery,
): SqlFragment {
  const where = conditions(index, mappings, query);
  return query.terms.length === 0
    ? fragment`select d.id, 0::float8 as score, d.doc, d.keys from ${t.docs} d where ${where}`
    : fragment`with q as (select unnest(${query.terms}::text[]) as term),
        f as (select unnest(${query.fields}::text[]) as field),
        stats as (select l.field, count(*)::float8 as n, avg(l.len)::float8 as avgdl
          from ${t.lengths} l where l.index = ${index} and l.field in (select field from f)
          group by l.field),
        df as (select w.field, w.term, count(*)::float8 as n from ${t.terms} w
          where w.index = ${index} and w.field in (select field from f)
            and w.term in (select term from q)
          group by w.field, w.term),
        per_field as (
          select w.id, w.field, count(*) as matched,
            sum(ln(1 + (s.n - df.n + 0.5) / (df.n + 0.5)) * w.tf
              / (w.tf + ${BM25_K1}::float8 * (1 - ${BM25_B}::float8
                + ${BM25_B}::float8 * l.len / s.avgdl))) as score
          from ${t.terms} w
          join df on df.field = w.field and df.term = w.term
          join stats s on s.field = w.field
          join ${t.lengths} l on l.index = w.index and l.field = w.field and l.id = w.id
          where w.index = ${index}
          group by w.id, w.field),
        best as (select id, max(score) as score from per_field
          where ${query.operator === "or"} or matched = ${query.terms.length}
          group by id)
        select d.id, b.score, d.doc, d.keys from best b
        join ${t.docs} d on d.index = ${index} and d.id = b.id
        where ${where}`;
}

/** The order of the matches `m`: by score, or by the sort fields; ties by id. */
function ordering(
  mappings: Readonly<Record<string, FieldType>>,
  query: DriverQuery,
): SqlFragment {
  if (query.sort.length === 0) return fragment`m.score desc, m.id collate "C"`;
  const fields = query.sort.map(({ field, order }) => {
    const value = mappings[field] === "keyword"
      ? fragment`(m.keys ->> ${field}) collate "C"`
      : mappings[field] === "boolean"
      ? fragment`(m.keys ->> ${field})::boolean`
      : fragment`(m.keys ->> ${field})::float8`;
    return order === "desc"
      ? fragment`${value} desc nulls last`
      : fragment`${value} asc nulls last`;
  }).reduce((all, one) => fragment`${all}, ${one}`);
  return fragment`${fields}, m.id collate "C"`;
}

/**
 * Creates the SQL search driver: full-text search with the kit's analyzer (CJK bigrams included)
 * and BM25 ranking in SQL, the same scores as the memory driver, on any kit db provider
 * (PostgreSQL, or PGlite in process). Its name is `postgres`: the SQL is PostgreSQL's.
 *
 * @example Search on the in-process PostgreSQL
 * ```ts ignore
 * import { db, es } from "@gochat/kit";
 *
 * await using database = await db.create(db.defaultConfig("development"));
 * await using search = await es.create({ keyPrefix: "" }, {
 *   driver: es.sqlSearch({ db: database }),
 * });
 * const messages = await search.index<{ content: string }>("messages", { content: "text" });
 * ```
 *
 * @param options The db provider (or a function opening one); the tables' prefix.
 * @returns The driver.
 * @throws {TypeError} On an unknown option, a missing `db`, or a bad table prefix.
 */
export function sqlSearch(options: SqlSearchOptions): SearchDriver {
  return new SqlSearch(options);
}
