/**
 * The top-k path (MaxScore) against exhaustive score-and-sort, and both against a reference
 * written as the driver ranked before it had either (every match scored into maps, sorted):
 * random corpora with replacements and deletions, tiny vocabularies for many equal scores,
 * random filters, ranges, fields and pages. Results must be equal to the last bit.
 */
import { seededRandom } from "../testing/random.ts";
import assert from "node:assert/strict";
import { searchExhaustive } from "./exhaustive.ts";
import { MemoryIndex } from "./memory_index.ts";
import { compareCodePoints, passes } from "./order.ts";
import { searchTopK } from "./top_k.ts";
import type { DriverQuery, IndexedDoc } from "./types.ts";

/** The ranking as the driver computed it before top-k: maps of every match, sorted. */
function reference(docs: Map<string, IndexedDoc>, query: DriverQuery) {
  const stats = new Map<string, { docs: number; length: number }>();
  const postings = new Map<string, Map<string, Map<string, number>>>();
  for (const doc of docs.values()) {
    for (const [field, terms] of Object.entries(doc.terms)) {
      if (terms.length === 0) continue;
      const s = stats.get(field) ?? { docs: 0, length: 0 };
      stats.set(field, s);
      s.docs++;
      s.length += terms.length;
      const byTerm = postings.get(field) ?? new Map();
      postings.set(field, byTerm);
      for (const term of terms) {
        const ids = byTerm.get(term) ?? new Map();
        byTerm.set(term, ids);
        ids.set(doc.id, (ids.get(doc.id) ?? 0) + 1);
      }
    }
  }
  const scores = new Map<string, number>();
  for (const field of query.fields) {
    const byTerm = postings.get(field);
    const s = stats.get(field);
    if (byTerm === undefined || s === undefined) continue;
    const averageLength = s.length / s.docs;
    const inField = new Map<string, { score: number; matched: number }>();
    for (const term of query.terms) {
      const ids = byTerm.get(term);
      if (ids === undefined) continue;
      for (const [id, tf] of ids) {
        const length = docs.get(id)!.terms[field].length;
        const idf = Math.log(1 + (s.docs - ids.size + 0.5) / (ids.size + 0.5));
        const score = idf * tf / (tf + 1.2 * (1 - 0.75 + 0.75 * length / averageLength));
        const entry = inField.get(id);
        if (entry) {
          entry.score += score;
          entry.matched++;
        } else inField.set(id, { score, matched: 1 });
      }
    }
    for (const [id, { score, matched }] of inField) {
      if (query.operator === "and" && matched < query.terms.length) continue;
      if (score > (scores.get(id) ?? -1)) scores.set(id, score);
    }
  }
  const hits = [...scores].filter(([id]) => passes(docs.get(id)!.keys, query))
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => a.score !== b.score ? b.score - a.score : compareCodePoints(a.id, b.id));
  return { total: hits.length, hits: hits.slice(query.from, query.from + query.size) };
}

const FIELDS = ["title", "body"];

Deno.test("top-k (MaxScore) ranks exactly as score-and-sort over random corpora and queries", () => {
  let topKQueries = 0;
  let pruned = 0;
  for (let round = 0; round < 60; round++) {
    const rand = seededRandom(round + 1);
    const pick = (n: number) => Math.floor(rand() * n);
    // Zipf-like term choice over a vocabulary of 3 to 40 words.
    const vocabulary = Array.from({ length: 3 + pick(38) }, (_, i) => `w${i}`);
    const word = () => vocabulary[Math.floor(vocabulary.length * rand() ** 2.5)];
    const text = (max: number) => Array.from({ length: pick(max + 1) }, word);
    const index = new MemoryIndex({});
    const docs = new Map<string, IndexedDoc>();
    const ids = 20 + pick(400);
    const writes = ids + pick(3 * ids);
    for (let w = 0; w < writes; w++) {
      const id = `d${pick(ids)}${rand() < 0.1 ? "\u{10000}" : rand() < 0.1 ? "\ue000" : ""}`;
      if (rand() < 0.15) {
        index.remove(id);
        docs.delete(id);
        continue;
      }
      const doc: IndexedDoc = {
        id,
        doc: {},
        terms: { title: text(rand() < 0.3 ? 0 : 4), body: text(rand() < 0.5 ? 3 : 25) },
        keys: { room: `r${pick(3)}`, likes: pick(10) },
      };
      index.add(doc);
      docs.set(id, doc);
    }
    for (let q = 0; q < 40; q++) {
      const terms = [...new Set(Array.from({ length: 1 + pick(4) }, word))];
      if (rand() < 0.1) terms.push("absent");
      const fields = rand() < 0.6 ? FIELDS : rand() < 0.5 ? ["body"] : ["title", "body", "title"];
      const size = [0, 1, 3, 10, 50, 1000][pick(6)];
      const query: DriverQuery = {
        text: terms.join(" "),
        terms,
        fields,
        operator: "or",
        filters: rand() < 0.3
          ? [{ field: "room", values: rand() < 0.5 ? ["r1"] : ["r0", "r2"] }]
          : [],
        ranges: rand() < 0.3 ? [{ field: "likes", gte: pick(5), lt: 5 + pick(6) }] : [],
        sort: [],
        from: rand() < 0.3 ? pick(60) : 0,
        size,
      };
      const expected = reference(docs, query);
      const named = (page: { total: number; hits: { slot: number; score: number }[] }) => ({
        total: page.total,
        hits: page.hits.map(({ slot, score }) => ({ id: index.slots[slot]!.id, score })),
      });
      const topK = searchTopK(index, query);
      assert.ok(topK, "an OR query by score takes the top-k path");
      topKQueries++;
      if (expected.total > query.from + query.size) pruned++;
      const context = `round ${round}, query ${JSON.stringify(query)}`;
      assert.deepEqual(named(topK), expected, context);
      assert.deepEqual(named(searchExhaustive(index, query)), expected, context);
      const and = { ...query, operator: "and" as const };
      assert.equal(searchTopK(index, and), undefined, "AND takes the exhaustive path");
      assert.deepEqual(named(searchExhaustive(index, and)), reference(docs, and), context);
    }
  }
  assert.ok(topKQueries === 2400 && pruned > 500, `${pruned} of ${topKQueries} queries cut a page`);
});
