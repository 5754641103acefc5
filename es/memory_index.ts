/**
 * The memory driver's storage: documents in numbered slots, and per text field an inverted
 * index whose postings list slots in ascending order in typed arrays, so that a query can walk
 * several postings side by side and skip ahead in them (see `top_k.ts`).
 *
 * A document written gets the next slot; replacing or deleting it leaves its old slot dead.
 * Dead entries are dropped from a posting when they outnumber the live ones, and the slots are
 * renumbered when dead slots outnumber live documents, so memory stays proportional to what is
 * stored.
 *
 * @module
 */
import type { Doc, FieldType, FilterValue, IndexedDoc } from "./types.ts";

/** A document as stored. */
export interface Stored {
  /** Its id. */
  readonly id: string;
  /** The document, a private copy. */
  readonly doc: Doc;
  /** Values of its keyword, number, boolean and date fields. */
  readonly keys: Readonly<Record<string, FilterValue>>;
  /** Distinct terms of each text field: what to take out of the postings on removal. */
  readonly terms: ReadonlyMap<string, readonly string[]>;
}

/** One term's entries in one field, in ascending slot order. */
export class Posting {
  /** Slots of the documents with the term; the first `size` are used. */
  slots: Int32Array = new Int32Array(2);
  /** Occurrences of the term in each of them. */
  tfs: Int32Array = new Int32Array(2);
  /** Entries, dead ones included. */
  size = 0;
  /** Live documents with the term: BM25's document frequency. */
  live = 0;
  /** Most occurrences in one entry; not lowered on removal, so always a bound. */
  maxTf = 0;
  /** Fewest terms in the field of a document with the term; likewise a bound. */
  minLength = Infinity;

  /** Appends an entry; `slot` is above every slot already there. */
  push(slot: number, tf: number, length: number): void {
    if (this.size === this.slots.length) {
      const slots = new Int32Array(this.size * 2);
      slots.set(this.slots);
      this.slots = slots;
      const tfs = new Int32Array(this.size * 2);
      tfs.set(this.tfs);
      this.tfs = tfs;
    }
    this.slots[this.size] = slot;
    this.tfs[this.size] = tf;
    this.size++;
    this.live++;
    if (tf > this.maxTf) this.maxTf = tf;
    if (length < this.minLength) this.minLength = length;
  }

  /** Keeps the live entries, renumbered by `renumber` (−1: dead), and tightens the bounds. */
  compact(renumber: (slot: number) => number, lengths: Int32Array): void {
    let kept = 0;
    this.maxTf = 0;
    this.minLength = Infinity;
    for (let i = 0; i < this.size; i++) {
      const slot = renumber(this.slots[i]);
      if (slot < 0) continue;
      const tf = this.tfs[i];
      this.slots[kept] = slot;
      this.tfs[kept] = tf;
      kept++;
      if (tf > this.maxTf) this.maxTf = tf;
      if (lengths[slot] < this.minLength) this.minLength = lengths[slot];
    }
    this.size = kept;
    if (this.slots.length > 2 * kept + 2) {
      this.slots = this.slots.slice(0, kept + 2);
      this.tfs = this.tfs.slice(0, kept + 2);
    }
  }
}

/** One text field's statistics and inverted index. */
export class FieldIndex {
  /** Documents with the field. */
  docs = 0;
  /** Their total length in terms. */
  length = 0;
  /** Terms in the field per slot (0: none, or a dead slot). */
  lengths: Int32Array = new Int32Array(16);
  /** term → posting. */
  readonly postings: Map<string, Posting> = new Map();
}

/** One index's documents and postings. */
export class MemoryIndex {
  /** The index's mappings. */
  mappings: Readonly<Record<string, FieldType>>;
  /** id → slot. */
  readonly ids: Map<string, number> = new Map();
  /** The document in each slot; undefined once replaced or deleted. */
  slots: (Stored | undefined)[] = [];
  /** Text field → its index. */
  readonly fields: Map<string, FieldIndex> = new Map();
  /** Scratch marks per slot for queries (see `top_k.ts`), and the value that means "now". */
  marks: Uint32Array = new Uint32Array(0);
  epoch = 0;

  /** Creates an empty index. */
  constructor(mappings: Readonly<Record<string, FieldType>>) {
    this.mappings = mappings;
  }

  /** Live documents. */
  get size(): number {
    return this.ids.size;
  }

  /** The document `id`'s stored form, or undefined. */
  get(id: string): Stored | undefined {
    const slot = this.ids.get(id);
    return slot === undefined ? undefined : this.slots[slot];
  }

  /** Deletes document `id`; false when there was none. */
  remove(id: string): boolean {
    const slot = this.ids.get(id);
    if (slot === undefined) return false;
    const stored = this.slots[slot]!;
    this.slots[slot] = undefined;
    this.ids.delete(id);
    for (const [field, terms] of stored.terms) {
      const index = this.fields.get(field)!;
      index.docs--;
      index.length -= index.lengths[slot];
      index.lengths[slot] = 0;
      for (const term of terms) {
        const posting = index.postings.get(term)!;
        posting.live--;
        if (posting.live === 0) index.postings.delete(term);
        else if (posting.size >= 8 && posting.size > 2 * posting.live) {
          posting.compact((s) => this.slots[s] === undefined ? -1 : s, index.lengths);
        }
      }
    }
    const dead = this.slots.length - this.ids.size;
    if (dead >= 64 && dead > this.ids.size) this.#renumber();
    return true;
  }

  /** Writes a document, replacing the one with its id. */
  add(indexed: IndexedDoc): void {
    this.remove(indexed.id);
    const slot = this.slots.length;
    const distinct = new Map<string, string[]>();
    for (const [field, terms] of Object.entries(indexed.terms)) {
      if (terms.length === 0) continue;
      let index = this.fields.get(field);
      if (index === undefined) this.fields.set(field, index = new FieldIndex());
      index.docs++;
      index.length += terms.length;
      if (slot >= index.lengths.length) {
        const lengths = new Int32Array(Math.max(16, 2 * slot));
        lengths.set(index.lengths);
        index.lengths = lengths;
      }
      index.lengths[slot] = terms.length;
      const counts = new Map<string, number>();
      for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
      for (const [term, tf] of counts) {
        let posting = index.postings.get(term);
        if (posting === undefined) index.postings.set(term, posting = new Posting());
        posting.push(slot, tf, terms.length);
      }
      distinct.set(field, [...counts.keys()]);
    }
    this.slots.push({
      id: indexed.id,
      doc: structuredClone(indexed.doc),
      keys: indexed.keys,
      terms: distinct,
    });
    this.ids.set(indexed.id, slot);
  }

  /** Gives the live documents slots 0, 1, 2 … in their order, dropping the dead ones. */
  #renumber(): void {
    const next = new Int32Array(this.slots.length).fill(-1);
    const slots: Stored[] = [];
    for (let slot = 0; slot < this.slots.length; slot++) {
      const stored = this.slots[slot];
      if (stored === undefined) continue;
      next[slot] = slots.length;
      this.ids.set(stored.id, slots.length);
      slots.push(stored);
    }
    for (const index of this.fields.values()) {
      const lengths = new Int32Array(Math.max(16, slots.length));
      for (let slot = 0; slot < next.length && slot < index.lengths.length; slot++) {
        if (next[slot] >= 0) lengths[next[slot]] = index.lengths[slot];
      }
      index.lengths = lengths;
      for (const posting of index.postings.values()) posting.compact((s) => next[s], lengths);
    }
    this.slots = slots;
    this.marks = new Uint32Array(0);
  }
}
