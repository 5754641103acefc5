/**
 * The memory search driver beside MiniSearch: a top-10 OR query of three terms with thousands
 * of matches, on 10,000 and 100,000 synthetic documents (a title and a body drawn from a
 * 20,000-word vocabulary with Zipf frequencies), and the index's memory per document.
 *
 * Rows: `kit search()` is the provider (query analysis, the top-k path, copies of the 10
 * documents returned); `kit top-k` and `kit exhaustive` run the driver's two ranking paths on
 * the same index directly (the exhaustive one scores and sorts every match, as the driver did
 * for every query before); MiniSearch (BM25+, its own tokenizer) returns every match sorted,
 * and the page is cut from that. Rankings differ between the two libraries (MiniSearch's
 * BM25+ and field boosts), so the rows compare work, not results.
 *
 * Memory: heapUsed after a full GC, before and after indexing, divided by the documents;
 * the kit keeps a copy of each document, MiniSearch (no `storeFields`) does not.
 *
 * Run: deno bench --allow-all --v8-flags=--expose-gc --config bench/deno.json bench/es_bench.ts
 */
import { seededRandom } from "../testing/random.ts";
import MiniSearch from "minisearch";
import * as es from "../es/mod.ts";
import { analyze } from "../es/analyze.ts";
import { searchExhaustive } from "../es/exhaustive.ts";
import { MemoryIndex } from "../es/memory_index.ts";
import { searchTopK } from "../es/top_k.ts";
import type { DriverQuery } from "../es/types.ts";

interface Article extends es.Doc {
  title: string;
  body: string;
}

const rand = seededRandom(42);
const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "an", "el", "or"];
const vocabulary = Array.from({ length: 20_000 }, (_, i) => {
  let word = "";
  for (let n = i + 1; n > 0; n = Math.floor(n / SYLLABLES.length)) {
    word += SYLLABLES[n % SYLLABLES.length];
  }
  return word;
});
// Zipf (s = 1): the cumulative weights, searched by bisection.
const cumulative = new Float64Array(vocabulary.length);
for (let i = 0, sum = 0; i < vocabulary.length; i++) cumulative[i] = sum += 1 / (i + 1);
const word = (): string => {
  const x = rand() * cumulative[cumulative.length - 1];
  let low = 0;
  let high = cumulative.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (cumulative[middle] < x) low = middle + 1;
    else high = middle;
  }
  return vocabulary[low];
};
const sentence = (min: number, max: number): string =>
  Array.from({ length: min + Math.floor(rand() * (max - min + 1)) }, word).join(" ");
const articles = (n: number): Article[] =>
  Array.from({ length: n }, () => ({ title: sentence(3, 8), body: sentence(20, 80) }));

const gc = (globalThis as { gc?: () => void }).gc;
const heap = (): number => {
  gc?.();
  return Deno.memoryUsage().heapUsed;
};

/** Three terms matching about 12%, 8% and 5% of the documents' bodies. */
function queryTerms(docs: Article[]): string[] {
  const df = new Map<string, number>();
  for (const doc of docs) {
    for (const term of new Set(analyze(doc.body))) df.set(term, (df.get(term) ?? 0) + 1);
  }
  return [0.12, 0.08, 0.05].map((share) => {
    let best = "";
    for (const [term, n] of df) {
      if (Math.abs(n - share * docs.length) < Math.abs((df.get(best) ?? 0) - share * docs.length)) {
        best = term;
      }
    }
    return best;
  });
}

for (const n of [10_000, 100_000]) {
  const docs = articles(n);
  const text = queryTerms(docs).join(" ");
  const label = `${n / 1000}k docs`;

  let before = heap();
  const search = await es.create();
  const index = await search.index<Article>(`bench${n}`, { title: "text", body: "text" });
  for (let i = 0; i < n; i += 1000) {
    await index.bulk(
      docs.slice(i, i + 1000).map((doc, j) => ({ op: "index", id: `a${i + j}`, doc })),
    );
  }
  const kitBytes = heap() - before;

  before = heap();
  const mini = new MiniSearch<Article & { id: number }>({ fields: ["title", "body"] });
  mini.addAll(docs.map((doc, id) => ({ id, ...doc })));
  const miniBytes = heap() - before;

  const direct = new MemoryIndex({ title: "text", body: "text" });
  docs.forEach((doc, i) =>
    direct.add({
      id: `a${i}`,
      doc,
      terms: { title: analyze(doc.title), body: analyze(doc.body) },
      keys: {},
    })
  );
  const query: DriverQuery = {
    text,
    terms: [...new Set(analyze(text))],
    fields: ["title", "body"],
    operator: "or",
    filters: [],
    ranges: [],
    sort: [],
    from: 0,
    size: 10,
  };
  const result = await index.search({ text, size: 10 });
  const exhaustive = searchExhaustive(direct, query);
  const topK = searchTopK(direct, query)!;
  if (JSON.stringify(topK) !== JSON.stringify(exhaustive)) throw new Error("paths disagree");
  console.log(
    `${label}: query "${text}" matches ${result.total} (MiniSearch: ${
      mini.search(text).length
    }); index memory per document: kit ${Math.round(kitBytes / n)} B, MiniSearch ${
      Math.round(miniBytes / n)
    } B${gc ? "" : " (run with --v8-flags=--expose-gc for exact figures)"}`,
  );

  const group = `top 10 of an OR query, ${label}`;
  Deno.bench(`kit search() (top-k), ${label}`, { group, baseline: true }, async () => {
    await index.search({ text, size: 10 });
  });
  Deno.bench(`kit top-k path, ${label}`, { group }, () => {
    searchTopK(direct, query);
  });
  Deno.bench(`kit exhaustive path, ${label}`, { group }, () => {
    searchExhaustive(direct, query);
  });
  Deno.bench(`MiniSearch search().slice(0, 10), ${label}`, { group }, () => {
    mini.search(text).slice(0, 10);
  });
}
