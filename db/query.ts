/**
 * The query a provider's `sql` tag builds: a fragment that runs when awaited, once however
 * often it is awaited, on the connection its tag is bound to.
 *
 * @module
 */
import { SqlFragment } from "./sql.ts";
import type { QueryResult } from "./types.ts";

/** A row as drivers return it. */
export type Row = Record<string, unknown>;

/**
 * How a provider runs its queries: the driver connection to send them on, and
 * what to do once one has finished (slow-query logging).
 */
export interface QueryRunner {
  /** Sends a rendered query. */
  send(text: string, params: readonly unknown[], parts: readonly string[]): Promise<QueryResult>;
  /** Whether to time queries (slow-query logging or metrics are on). */
  readonly timed: boolean;
  /** The time a timed query starts at, in ms (its origin is the runner's own). */
  now(): number;
  /** Called once per query that succeeded, with its text and start time (from `now`). */
  finished(text: string, startedAt: number): void;
  /** Called once per query that failed, when failures are counted. */
  readonly failed?: () => void;
}

/**
 * A query built by the `sql` tag: awaiting it runs it (once, however often it is awaited);
 * embedding it in another query nests it as a fragment.
 */
export class Query<T> extends SqlFragment implements Promise<T[]> {
  readonly #runner: QueryRunner;
  #sent: Promise<QueryResult> | undefined;
  #text = "";
  #startedAt = 0;
  #finished = false;

  /** Marks the object for `Object.prototype.toString`. */
  get [Symbol.toStringTag](): string {
    return "Query";
  }

  /**
   * Creates a query; use a provider's `sql` tag instead.
   *
   * @param strings Literal parts.
   * @param values Interpolated values.
   * @param runner Sends the rendered query.
   */
  constructor(strings: readonly string[], values: readonly unknown[], runner: QueryRunner) {
    super(strings, values);
    this.#runner = runner;
  }

  #send(): Promise<QueryResult> {
    if (this.#sent) return this.#sent;
    let rendered: { text: string; params: unknown[]; parts: readonly string[] };
    try {
      rendered = this.render();
    } catch (error) {
      return this.#sent = Promise.reject(error);
    }
    this.#text = rendered.text;
    // Whole milliseconds are enough for slow-query thresholds: one clock read per microtask turn.
    if (this.#runner.timed) this.#startedAt = this.#runner.now();
    this.#sent = this.#runner.send(rendered.text, rendered.params, rendered.parts);
    if (this.#runner.failed) this.#sent.catch(this.#runner.failed);
    return this.#sent;
  }

  #rows(result: QueryResult): T[] {
    if (!this.#finished) {
      this.#finished = true;
      if (this.#runner.timed) this.#runner.finished(this.#text, this.#startedAt);
    }
    return result.rows as T[];
  }

  /** Runs the query (the first time) and settles with its rows. */
  then<A = T[], B = never>(
    onfulfilled?: ((rows: T[]) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    // The rows go straight to the caller's callback: no promise in between.
    return this.#send().then(
      onfulfilled
        ? (result) => onfulfilled(this.#rows(result))
        : (result) => this.#rows(result) as unknown as A,
      onrejected,
    );
  }

  /** Runs the query (the first time) and handles its failure. */
  catch<B = never>(
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<T[] | B> {
    return this.then(undefined, onrejected);
  }

  /** Runs the query (the first time) and calls `onfinally` when it settles. */
  finally(onfinally?: (() => void) | null): Promise<T[]> {
    return this.then().finally(onfinally);
  }
}

/** The `sql` tagged template of a provider, reader, writer or transaction. */
export interface SqlTag {
  /** Builds a query whose interpolated values are bound parameters. */
  <T = Row>(strings: TemplateStringsArray, ...values: unknown[]): Query<T>;
}

/** Something queries can run on. */
export interface Queryable {
  /** The `sql` tag bound to this connection, pool or transaction. */
  readonly sql: SqlTag;
}
