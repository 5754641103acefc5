/**
 * Top-k retrieval for OR queries ranked by score: MaxScore (Turtle & Flood 1995, as Lucene's
 * `MaxScoreBulkScorer` does it), so that a top-10 query scores few of its matches.
 *
 * Each (field, term) posting has an upper bound on the score it can add, from its largest term
 * frequency and its shortest field. The postings are ordered by bound; once the page's worst
 * score θ is known, the postings whose bounds add up to less than θ are "non-essential": a
 * document found only in them cannot reach the page, so only documents of the essential
 * postings are visited, and the non-essential ones are only probed for those (by galloping
 * search), and not at all when the bounds say the document cannot reach θ. As θ rises, more
 * postings become non-essential.
 *
 * `total` stays exact: a first pass marks every matching document (and whether it passes the
 * filters and ranges), which costs a typed-array write per posting entry, not a score.
 * Scores are summed per field in the query's term order, as the exhaustive path sums them, so
 * the figures are the same to the last bit; ties go by id.
 *
 * Serves queries with terms, `operator: "or"`, no sort by field (filters, ranges and paging
 * included); others return undefined and take the exhaustive path.
 *
 * @module
 */
import { idf, termScore } from "./bm25.ts";
import type { RankedHit, RankedPage } from "./exhaustive.ts";
import type { MemoryIndex, Posting } from "./memory_index.ts";
import { compareCodePoints, passes } from "./order.ts";
import type { DriverQuery } from "./types.ts";

/** Slack on summed bounds, far above the rounding of a few float additions. */
const SLACK = 1 + 1e-9;

interface Cursor {
  readonly posting: Posting;
  readonly idf: number;
  readonly averageLength: number;
  readonly lengths: Int32Array;
  /** Index of the field in the query's (distinct) fields, and of the term in its terms. */
  readonly cell: number;
  /** The most this posting adds to a document's score. */
  readonly bound: number;
  position: number;
}

/**
 * Runs `query` with MaxScore when its shape allows.
 *
 * @param index The index.
 * @param query The normalized query.
 * @returns The total and the page, or undefined for a query this path does not serve.
 */
export function searchTopK(index: MemoryIndex, query: DriverQuery): RankedPage | undefined {
  if (query.terms.length === 0 || query.operator !== "or" || query.sort.length > 0) {
    return undefined;
  }
  const fields = [...new Set(query.fields)];
  const termCount = query.terms.length;
  const cursors: Cursor[] = [];
  fields.forEach((field, f) => {
    const fieldIndex = index.fields.get(field);
    if (fieldIndex === undefined || fieldIndex.docs === 0) return;
    const averageLength = fieldIndex.length / fieldIndex.docs;
    query.terms.forEach((term, t) => {
      const posting = fieldIndex.postings.get(term);
      if (posting === undefined) return;
      const termIdf = idf(fieldIndex.docs, posting.live);
      const bound = termScore(termIdf, posting.maxTf, posting.minLength, averageLength) * SLACK;
      cursors.push({
        posting,
        idf: termIdf,
        averageLength,
        lengths: fieldIndex.lengths,
        cell: f * termCount + t,
        bound,
        position: 0,
      });
    });
  });

  // Pass 1: mark every match; `pass` marks those that pass the filters too. Count them.
  if (index.marks.length < index.slots.length) {
    index.marks = new Uint32Array(Math.max(16, index.slots.length * 2));
    index.epoch = 0;
  }
  if (index.epoch >= 0xfffffff0) {
    index.marks.fill(0);
    index.epoch = 0;
  }
  const seen = index.epoch + 1;
  const pass = index.epoch + 2;
  index.epoch = pass;
  const marks = index.marks;
  const slots = index.slots;
  const filtered = query.filters.length > 0 || query.ranges.length > 0;
  let total = 0;
  for (const { posting } of cursors) {
    const entries = posting.slots;
    for (let i = 0; i < posting.size; i++) {
      const slot = entries[i];
      if (marks[slot] === seen || marks[slot] === pass) continue;
      const stored = slots[slot];
      if (stored === undefined) continue;
      if (!filtered || passes(stored.keys, query)) {
        marks[slot] = pass;
        total++;
      } else marks[slot] = seen;
    }
  }
  const k = Math.min(query.from + query.size, total);
  if (k === 0 || query.from >= total) return { total, hits: [] };

  // Pass 2: MaxScore over the postings, cheapest bound first.
  cursors.sort((a, b) => a.bound - b.bound);
  const n = cursors.length;
  const prefix = new Float64Array(n); // prefix[i]: bounds of cursors 0..i, summed
  let sum = 0;
  for (let i = 0; i < n; i++) prefix[i] = sum = (sum + cursors[i].bound) * SLACK;
  const heap = new TopHits(k, (slot) => slots[slot]!.id);
  const contributions = new Float64Array(fields.length * termCount);
  const present = new Uint8Array(fields.length * termCount);
  let essential = 0; // cursors below are non-essential
  let threshold = -Infinity;

  for (;;) {
    // The next document: the lowest slot among the essential cursors, skipping non-matches.
    let doc = 0x7fffffff;
    for (let i = essential; i < n; i++) {
      const cursor = cursors[i];
      const { size, slots: entries } = cursor.posting;
      let p = cursor.position;
      while (p < size && marks[entries[p]] !== pass) p++;
      cursor.position = p;
      if (p < size && entries[p] < doc) doc = entries[p];
    }
    if (doc === 0x7fffffff) break;

    // The essential postings' part, then a bound on the whole before probing the others.
    let partial = 0;
    for (let i = essential; i < n; i++) {
      const cursor = cursors[i];
      if (cursor.position < cursor.posting.size && cursor.posting.slots[cursor.position] === doc) {
        const score = termScore(
          cursor.idf,
          cursor.posting.tfs[cursor.position],
          cursor.lengths[doc],
          cursor.averageLength,
        );
        contributions[cursor.cell] = score;
        present[cursor.cell] = 1;
        partial += score;
        cursor.position++;
      }
    }
    let reachable = essential === 0 || (partial + prefix[essential - 1]) * SLACK >= threshold;
    for (let i = essential - 1; reachable && i >= 0; i--) {
      const cursor = cursors[i];
      const at = advance(cursor.posting, cursor.position, doc);
      cursor.position = at;
      if (at < cursor.posting.size && cursor.posting.slots[at] === doc) {
        const score = termScore(
          cursor.idf,
          cursor.posting.tfs[at],
          cursor.lengths[doc],
          cursor.averageLength,
        );
        contributions[cursor.cell] = score;
        present[cursor.cell] = 1;
        partial += score;
      }
      if (i > 0 && (partial + prefix[i - 1]) * SLACK < threshold) reachable = false;
    }

    if (reachable) {
      // The exact score: per field in term order, as the exhaustive path sums; the best field.
      let best = -1;
      for (let cell = 0; cell < present.length; cell += termCount) {
        let score = 0;
        let any = false;
        for (let t = 0; t < termCount; t++) {
          if (present[cell + t] === 0) continue;
          score += contributions[cell + t];
          any = true;
        }
        if (any && score > best) best = score;
      }
      if (heap.offer(doc, best) && heap.full) {
        threshold = heap.worstScore;
        while (essential < n && prefix[essential] < threshold) essential++;
        if (essential === n) break;
      }
    }
    present.fill(0);
  }
  return { total, hits: heap.sorted().slice(query.from) };
}

/** The first position at or after `from` whose slot is at least `target` (galloping search). */
function advance(posting: Posting, from: number, target: number): number {
  const entries = posting.slots;
  const size = posting.size;
  if (from >= size || entries[from] >= target) return from;
  let step = 1;
  let low = from;
  let high = from + 1;
  while (high < size && entries[high] < target) {
    low = high;
    step *= 2;
    high = from + step;
  }
  if (high > size) high = size;
  // entries[low] < target; entries[high] >= target or high === size.
  while (low + 1 < high) {
    const middle = (low + high) >>> 1;
    if (entries[middle] < target) low = middle;
    else high = middle;
  }
  return high;
}

/** The best `k` hits so far: a binary heap with the worst (lowest score, then highest id) on top. */
class TopHits {
  readonly #k: number;
  readonly #id: (slot: number) => string;
  readonly #slots: Int32Array;
  readonly #scores: Float64Array;
  #size = 0;

  constructor(k: number, id: (slot: number) => string) {
    this.#k = k;
    this.#id = id;
    this.#slots = new Int32Array(k);
    this.#scores = new Float64Array(k);
  }

  get full(): boolean {
    return this.#size === this.#k;
  }

  get worstScore(): number {
    return this.#scores[0];
  }

  /** Whether hit `a` ranks below hit `b`. */
  #worse(slotA: number, scoreA: number, slotB: number, scoreB: number): boolean {
    if (scoreA !== scoreB) return scoreA < scoreB;
    return compareCodePoints(this.#id(slotA), this.#id(slotB)) > 0;
  }

  /** Adds the hit if it ranks in the best `k`; whether it did. */
  offer(slot: number, score: number): boolean {
    const slots = this.#slots;
    const scores = this.#scores;
    if (this.#size < this.#k) {
      let i = this.#size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.#worse(slot, score, slots[parent], scores[parent])) break;
        slots[i] = slots[parent];
        scores[i] = scores[parent];
        i = parent;
      }
      slots[i] = slot;
      scores[i] = score;
      return true;
    }
    if (score < scores[0] || this.#worse(slot, score, slots[0], scores[0])) return false;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.#size) break;
      const right = left + 1;
      const child =
        right < this.#size && this.#worse(slots[right], scores[right], slots[left], scores[left])
          ? right
          : left;
      if (!this.#worse(slots[child], scores[child], slot, score)) break;
      slots[i] = slots[child];
      scores[i] = scores[child];
      i = child;
    }
    slots[i] = slot;
    scores[i] = score;
    return true;
  }

  /** The hits, best first. */
  sorted(): RankedHit[] {
    const hits: RankedHit[] = [];
    for (let i = 0; i < this.#size; i++) {
      hits.push({ slot: this.#slots[i], score: this.#scores[i] });
    }
    return hits.sort((a, b) =>
      a.score !== b.score
        ? b.score - a.score
        : compareCodePoints(this.#id(a.slot), this.#id(b.slot))
    );
  }
}
