/**
 * The memory driver's general search path: score every matching document, keep those that pass
 * the filters, sort them all and cut the page. It serves every query shape; `top_k.ts` serves
 * the common ones faster with the same results, and is checked against this.
 *
 * @module
 */
import { idf, termScore } from "./bm25.ts";
import type { MemoryIndex, Stored } from "./memory_index.ts";
import { compareCodePoints, compareKeys, passes } from "./order.ts";
import type { DriverQuery } from "./types.ts";

/** One hit of a page: the document's slot and its score. */
export interface RankedHit {
  /** The slot of the document in the index. */
  readonly slot: number;
  /** Its BM25 score (0 without terms). */
  readonly score: number;
}

/** A page of a search in a memory index. */
export interface RankedPage {
  /** Documents that matched and passed the filters. */
  readonly total: number;
  /** The page asked for, in order. */
  readonly hits: RankedHit[];
}

/**
 * Runs `query` by scoring and sorting every match.
 *
 * @param index The index.
 * @param query The normalized query.
 * @returns The total and the page.
 */
export function searchExhaustive(index: MemoryIndex, query: DriverQuery): RankedPage {
  const scores = new Map<number, number>();
  if (query.terms.length === 0) {
    for (const slot of index.ids.values()) scores.set(slot, 0);
  } else {
    for (const field of query.fields) {
      const fieldIndex = index.fields.get(field);
      if (fieldIndex === undefined || fieldIndex.docs === 0) continue;
      const averageLength = fieldIndex.length / fieldIndex.docs;
      const inField = new Map<number, { score: number; matched: number }>();
      for (const term of query.terms) {
        const posting = fieldIndex.postings.get(term);
        if (posting === undefined) continue;
        const termIdf = idf(fieldIndex.docs, posting.live);
        for (let i = 0; i < posting.size; i++) {
          const slot = posting.slots[i];
          if (index.slots[slot] === undefined) continue;
          const score = termScore(termIdf, posting.tfs[i], fieldIndex.lengths[slot], averageLength);
          const entry = inField.get(slot);
          if (entry) {
            entry.score += score;
            entry.matched++;
          } else inField.set(slot, { score, matched: 1 });
        }
      }
      for (const [slot, { score, matched }] of inField) {
        if (query.operator === "and" && matched < query.terms.length) continue;
        if (score > (scores.get(slot) ?? -1)) scores.set(slot, score); // the best field counts
      }
    }
  }
  const hits: { slot: number; score: number; stored: Stored }[] = [];
  for (const [slot, score] of scores) {
    const stored = index.slots[slot]!;
    if (passes(stored.keys, query)) hits.push({ slot, score, stored });
  }
  hits.sort((a, b) => {
    for (const { field, order } of query.sort) {
      const by = compareKeys(a.stored.keys[field], b.stored.keys[field], order);
      if (by !== 0) return by;
    }
    if (query.sort.length === 0 && a.score !== b.score) return b.score - a.score;
    return compareCodePoints(a.stored.id, b.stored.id);
  });
  return {
    total: hits.length,
    hits: hits.slice(query.from, query.from + query.size).map(({ slot, score }) => ({
      slot,
      score,
    })),
  };
}
