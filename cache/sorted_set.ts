/**
 * The memory driver's sorted set: a member → score map beside a skip list ordered by score, then
 * member (Redis's order), whose links carry spans as Redis's `zskiplist` does, so a rank range, a
 * score range, a count and an update are logarithmic instead of sorting every member per call.
 *
 * @module
 */
import type { ZMember } from "./types.ts";

const MAX_LEVEL = 32;
const BRANCHING = 0.25;
/** Approximate bytes per member beyond its name: map entry, node, links. */
export const MEMBER_OVERHEAD = 48;

class Node {
  readonly next: (Node | null)[];
  /** Members skipped by each link (the link's rank distance). */
  readonly span: number[];
  previous: Node | null = null;

  constructor(readonly member: string, readonly score: number, level: number) {
    this.next = new Array(level).fill(null);
    this.span = new Array(level).fill(0);
  }
}

/** Whether (score, member) sorts before `node`'s. */
const before = (score: number, member: string, node: Node) =>
  node.score < score || (node.score === score && node.member < member);

function randomLevel(): number {
  let level = 1;
  while (level < MAX_LEVEL && Math.random() < BRANCHING) level++;
  return level;
}

/** A sorted set with Redis's ordering and logarithmic updates and ranges. */
export class SortedSet {
  readonly #scores = new Map<string, number>();
  readonly #head = new Node("", -Infinity, MAX_LEVEL);
  #tail: Node | null = null;
  #level = 1;
  #bytes = 0;

  /** Number of members. */
  get size(): number {
    return this.#scores.size;
  }

  /** Approximate bytes of the members and the structure. */
  get bytes(): number {
    return this.#bytes;
  }

  /** A member's score. */
  score(member: string): number | undefined {
    return this.#scores.get(member);
  }

  /** Sets a member's score; true when it was not a member before. */
  set(member: string, score: number): boolean {
    const current = this.#scores.get(member);
    if (current === score) return false;
    if (current !== undefined) this.#unlink(member, current);
    else this.#bytes += member.length * 2 + MEMBER_OVERHEAD;
    this.#scores.set(member, score);
    this.#insert(member, score);
    return current === undefined;
  }

  /** Removes a member; true when it was one. */
  delete(member: string): boolean {
    const score = this.#scores.get(member);
    if (score === undefined) return false;
    this.#unlink(member, score);
    this.#scores.delete(member);
    this.#bytes -= member.length * 2 + MEMBER_OVERHEAD;
    return true;
  }

  /** Members of ranks `from` to `to` (inclusive, 0-based, valid), lowest score first or last. */
  range(from: number, to: number, reverse: boolean): ZMember[] {
    const result: ZMember[] = [];
    let node = this.#byRank(reverse ? this.size - 1 - from : from);
    for (let rank = from; node !== null && rank <= to; rank++) {
      result.push({ member: node.member, score: node.score });
      node = reverse ? node.previous : node.next[0];
    }
    return result;
  }

  /** Members with `min <= score <= max`, lowest first, at most `limit`. */
  rangeByScore(min: number, max: number, limit = Infinity): ZMember[] {
    const result: ZMember[] = [];
    for (
      let node = this.#firstAtLeast(min);
      node !== null && node.score <= max && result.length < limit;
      node = node.next[0]
    ) {
      result.push({ member: node.member, score: node.score });
    }
    return result;
  }

  /** How many members have `min <= score <= max`. */
  countByScore(min: number, max: number): number {
    if (min > max) return 0;
    return this.#rankBelow(max, true) - this.#rankBelow(min, false);
  }

  /** Removes ranks `from` to `to` (inclusive, valid); returns how many. */
  deleteRange(from: number, to: number): number {
    const doomed = this.range(from, to, false);
    for (const { member } of doomed) this.delete(member);
    return doomed.length;
  }

  /** Every member, lowest score first. */
  *[Symbol.iterator](): IterableIterator<ZMember> {
    for (let node = this.#head.next[0]; node !== null; node = node.next[0]) {
      yield { member: node.member, score: node.score };
    }
  }

  #insert(member: string, score: number): void {
    const update = new Array<Node>(MAX_LEVEL);
    const rank = new Array<number>(MAX_LEVEL);
    let node = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      rank[i] = i === this.#level - 1 ? 0 : rank[i + 1];
      while (node.next[i] !== null && before(score, member, node.next[i]!)) {
        rank[i] += node.span[i];
        node = node.next[i]!;
      }
      update[i] = node;
    }
    const level = randomLevel();
    if (level > this.#level) {
      for (let i = this.#level; i < level; i++) {
        rank[i] = 0;
        update[i] = this.#head;
        update[i].span[i] = this.size - 1; // the new member is already counted in size
      }
      this.#level = level;
    }
    const created = new Node(member, score, level);
    for (let i = 0; i < level; i++) {
      created.next[i] = update[i].next[i];
      update[i].next[i] = created;
      created.span[i] = update[i].span[i] - (rank[0] - rank[i]);
      update[i].span[i] = rank[0] - rank[i] + 1;
    }
    for (let i = level; i < this.#level; i++) update[i].span[i]++;
    created.previous = update[0] === this.#head ? null : update[0];
    if (created.next[0] !== null) created.next[0].previous = created;
    else this.#tail = created;
  }

  #unlink(member: string, score: number): void {
    const update = new Array<Node>(MAX_LEVEL);
    let node = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      while (node.next[i] !== null && before(score, member, node.next[i]!)) node = node.next[i]!;
      update[i] = node;
    }
    const target = node.next[0]!;
    for (let i = 0; i < this.#level; i++) {
      if (update[i].next[i] === target) {
        update[i].span[i] += target.span[i] - 1;
        update[i].next[i] = target.next[i];
      } else {
        update[i].span[i]--;
      }
    }
    if (target.next[0] !== null) target.next[0].previous = target.previous;
    else this.#tail = target.previous;
    while (this.#level > 1 && this.#head.next[this.#level - 1] === null) this.#level--;
  }

  /** The node of 0-based rank `rank`, or null. */
  #byRank(rank: number): Node | null {
    if (rank < 0 || rank >= this.size) return null;
    if (rank === this.size - 1) return this.#tail;
    let traversed = -1; // the head is rank -1
    let node = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      while (node.next[i] !== null && traversed + node.span[i] <= rank) {
        traversed += node.span[i];
        node = node.next[i]!;
      }
      if (traversed === rank) return node;
    }
    return null;
  }

  /** The first node with a score of at least `min`. */
  #firstAtLeast(min: number): Node | null {
    let node = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      while (node.next[i] !== null && node.next[i]!.score < min) node = node.next[i]!;
    }
    return node.next[0];
  }

  /** How many members score below `score` (or at most `score`, with `inclusive`). */
  #rankBelow(score: number, inclusive: boolean): number {
    let rank = 0;
    let node = this.#head;
    for (let i = this.#level - 1; i >= 0; i--) {
      while (
        node.next[i] !== null &&
        (inclusive ? node.next[i]!.score <= score : node.next[i]!.score < score)
      ) {
        rank += node.span[i];
        node = node.next[i]!;
      }
    }
    return rank;
  }
}
