/**
 * The memory driver's sorted sets (a skip list with spans, `cache/sorted_set.ts`) beside a
 * sorted-array baseline kept in order by binary search (O(1) ranges, O(n) updates), at 1k, 100k
 * and 1M members: the top 10 (`revRange`), one score update (`add` of an existing member) and
 * `count` of a score range; the memory per member is printed.
 *
 * Run: deno bench --allow-all --v8-flags=--expose-gc cache/zset_bench.ts
 */
import * as cache from "./mod.ts";
import type { ZMember } from "./types.ts";

const SIZES = [1_000, 100_000, 1_000_000];
const gc = (globalThis as { gc?: () => void }).gc;

/** The baseline: members in score order in one array, found by binary search. */
class SortedArray {
  readonly items: ZMember[] = [];
  readonly scores = new Map<string, number>();
  #index(score: number, member: string): number {
    let low = 0, high = this.items.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const item = this.items[mid];
      if (item.score < score || (item.score === score && item.member < member)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
  set(member: string, score: number): void {
    const old = this.scores.get(member);
    if (old !== undefined) this.items.splice(this.#index(old, member), 1);
    this.items.splice(this.#index(score, member), 0, { member, score });
    this.scores.set(member, score);
  }
  /** Loads members at once: one sort, not n ordered inserts. */
  load(members: ZMember[]): void {
    for (const { member, score } of members) this.scores.set(member, score);
    for (const item of members) this.items.push(item);
    this.items.sort((a, b) =>
      a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0)
    );
  }
  top(count: number): ZMember[] {
    return this.items.slice(-count).reverse();
  }
  count(min: number, max: number): number {
    return this.#index(max + 1e-9, "") - this.#index(min, "");
  }
}

const heap = () => {
  gc?.();
  return Deno.memoryUsage().heapUsed;
};
const memory: string[] = [];

for (const size of SIZES) {
  const label = size.toLocaleString("en");
  const before = heap();
  const store = await cache.create(cache.defaultConfig("development"));
  const batch: ZMember[] = [];
  for (let i = 0; i < size; i++) {
    batch.push({ member: `user:${i}`, score: (i * 7919) % size });
    if (batch.length === 10_000 || i === size - 1) {
      await store.zset.add("board", ...batch);
      batch.length = 0;
    }
  }
  const kitBytes = heap() - before;
  const arrayBefore = heap();
  const array = new SortedArray();
  array.load(
    Array.from({ length: size }, (_, i) => ({ member: `user:${i}`, score: (i * 7919) % size })),
  );
  const arrayBytes = heap() - arrayBefore;
  memory.push(
    `${label} members: kit ${
      Math.round(kitBytes / size)
    } B/member (cache entry, map, skip list), ` +
      `sorted array ${Math.round(arrayBytes / size)} B/member (array, map)` +
      (gc ? "" : " — run with --v8-flags=--expose-gc for exact figures"),
  );
  let n = 0;
  Deno.bench(
    `kit memory zset: revRange top 10 of ${label}`,
    { group: `top 10 of ${label}` },
    async () => {
      await store.zset.revRange("board", 0, 9);
    },
  );
  Deno.bench(`sorted array: top 10 of ${label}`, { group: `top 10 of ${label}` }, () => {
    array.top(10);
  });
  Deno.bench(
    `kit memory zset: one score update in ${label}`,
    { group: `update in ${label}` },
    async () => {
      await store.zset.add("board", { member: `user:${n++ % size}`, score: n % size });
    },
  );
  Deno.bench(`sorted array: one score update in ${label}`, { group: `update in ${label}` }, () => {
    array.set(`user:${n++ % size}`, n % size);
  });
  Deno.bench(
    `kit memory zset: count of a score range in ${label}`,
    { group: `count in ${label}` },
    async () => {
      await store.zset.count("board", size / 4, size / 2);
    },
  );
  Deno.bench(
    `sorted array: count of a score range in ${label}`,
    { group: `count in ${label}` },
    () => {
      array.count(size / 4, size / 2);
    },
  );
}

globalThis.addEventListener("unload", () => {
  for (const line of memory) console.log(line);
});
