/**
 * What every search behaviour file shares: the document type and mappings of the cases, the
 * `test` helper that names and registers a case, and two providers on one backend.
 *
 * @module
 */
import { capturingLogger } from "../../testing/logger.ts";
import * as es from "../mod.ts";
import type { SearchSuiteOptions } from "../conformance.ts";

/** The document every case indexes: a chat message. */
export interface Message extends es.Doc {
  /** The message text. */
  content: string;
  /** An optional title, searched as text too. */
  title?: string;
  /** The room, a keyword. */
  room?: string;
  /** A number to filter and sort by. */
  likes?: number;
  /** A boolean to filter by. */
  pinned?: boolean;
  /** A date, as ISO text or epoch milliseconds. */
  sentAt?: string | number;
}

/** The mappings of {@linkcode Message}. */
export const MAPPINGS: es.Mappings<Message> = {
  content: "text",
  title: "text",
  room: "keyword",
  likes: "number",
  pinned: "boolean",
  sentAt: "date",
};

/** One index opened by two providers on one backend, dropped and closed together. */
export interface SearchPair extends AsyncDisposable {
  /** The index through the first provider. */
  readonly a: es.Index<Message>;
  /** The same index through the second provider, as another service instance. */
  readonly b: es.Index<Message>;
}

/** What each behaviour file of the search suite is given. */
export interface SearchSuiteContext {
  /** The driver under test. */
  readonly options: SearchSuiteOptions;
  /** A tag of this run of the suite: every provider's key prefix is `kit_${run}_`. */
  readonly run: string;
  /** Registers one case as `[name] es: title`, ignored when the backend is not available. */
  test(title: string, fn: () => Promise<void>): void;
  /** Two providers and a new index named after `title`. */
  pair(title: string): Promise<SearchPair>;
  /** The ids of a result's hits, in order. */
  ids(result: es.SearchResult<Message>): string[];
}

// Counts indexes across every suite run in this process, so each case gets a fresh one.
let counter = 0;

/**
 * Builds the shared context of the search suite for one driver.
 *
 * @param options The driver under test.
 * @returns The `test` helper and the provider factory.
 */
export function searchSuiteContext(options: SearchSuiteOptions): SearchSuiteContext {
  const { name } = options;
  const run = Date.now().toString(36);

  async function pair(title: string): Promise<SearchPair> {
    const a = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const b = await es.create({ keyPrefix: `kit_${run}_` }, {
      driver: await options.makeDriver(),
      logger: capturingLogger().logger,
    });
    const indexName = `${title.replaceAll(/[^a-z0-9]+/g, "-")}-${++counter}`;
    const ia = await a.index<Message>(indexName, MAPPINGS);
    const ib = await b.index<Message>(indexName, MAPPINGS);
    return {
      a: ia,
      b: ib,
      async [Symbol.asyncDispose]() {
        await ia.drop().catch(() => {});
        await a.close();
        await b.close();
      },
    };
  }

  const ids = (result: es.SearchResult<Message>) => result.hits.map((hit) => hit.id);

  const test = (title: string, fn: () => Promise<void>) =>
    Deno.test({ name: `[${name}] es: ${title}`, ignore: options.ignore, fn });

  return { options, run, test, pair, ids };
}
