/**
 * The behaviour every search driver must show, as one suite of `Deno.test`
 * cases. Two providers share one backend, as two service instances would.
 * Scores are compared only by order on clear-cut cases: Elasticsearch stores
 * field lengths lossily, so its BM25 figures differ in the last digits.
 *
 * @example Running the suite on a driver
 * ```ts ignore
 * import { searchConformance } from "@gochat/kit/es/conformance";
 * import { es } from "@gochat/kit";
 *
 * const store = new es.MemorySearchStore();
 * searchConformance({ name: "memory", makeDriver: () => es.memorySearch({ store }) });
 * ```
 *
 * @module
 */
import type { SearchDriver } from "./driver.ts";
import { documentCases } from "./conformance/documents.ts";
import { indexCases } from "./conformance/indexes.ts";
import { inputCases } from "./conformance/input.ts";
import { lifecycleCases } from "./conformance/lifecycle.ts";
import { queryCases, sortAndReplaceCases } from "./conformance/query.ts";
import { signalCases } from "./conformance/signal.ts";
import { textCases } from "./conformance/text.ts";
import { searchSuiteContext } from "./conformance/_context.ts";

/** How to run the suite against one driver. */
export interface SearchSuiteOptions {
  /** Driver name for test names (`[postgres] …`). */
  readonly name: string;
  /** A new client of the shared backend; called once per provider. */
  makeDriver(): SearchDriver | Promise<SearchDriver>;
  /** Ignore every case (the backend is not available). */
  readonly ignore?: boolean;
}

/**
 * Registers the search conformance cases with `Deno.test`.
 *
 * @param options The driver under test.
 */
export function searchConformance(options: SearchSuiteOptions): void {
  // The cases register in the order they always ran: names and order are part of the contract.
  const context = searchSuiteContext(options);
  lifecycleCases(context);
  documentCases(context);
  textCases(context);
  queryCases(context);
  sortAndReplaceCases(context);
  indexCases(context);
  signalCases(context);
  inputCases(context);
}
