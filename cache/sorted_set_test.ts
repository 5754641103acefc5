import assert from "node:assert/strict";
import { SortedSet } from "./sorted_set.ts";
import type { ZMember } from "./types.ts";

/** The model: every member sorted by score, then member, on each call. */
function sorted(model: Map<string, number>): ZMember[] {
  return [...model].map(([member, score]) => ({ member, score }))
    .sort((a, b) => a.score - b.score || (a.member < b.member ? -1 : a.member > b.member ? 1 : 0));
}

Deno.test("SortedSet agrees with a sorted array over 20,000 random adds, updates, removals, ranges and counts", () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const set = new SortedSet();
  const model = new Map<string, number>();
  for (let step = 0; step < 20_000; step++) {
    const member = `m${Math.floor(random() * 500)}`;
    const score = Math.floor(random() * 100); // many ties: the member decides
    const op = random();
    if (op < 0.5) {
      assert.equal(set.set(member, score), !model.has(member));
      model.set(member, score);
    } else if (op < 0.7) {
      assert.equal(set.delete(member), model.delete(member));
    } else if (op < 0.72) {
      const order = sorted(model);
      const from = Math.floor(random() * (order.length + 1));
      const to = Math.min(order.length - 1, from + Math.floor(random() * 20));
      assert.equal(set.deleteRange(from, to), Math.max(0, to - from + 1));
      for (const { member } of order.slice(from, to + 1)) model.delete(member);
    } else {
      const order = sorted(model);
      assert.equal(set.size, order.length);
      const from = Math.floor(random() * Math.max(1, order.length));
      const to = Math.min(order.length - 1, from + Math.floor(random() * 15));
      if (order.length > 0) {
        assert.deepEqual(set.range(from, to, false), order.slice(from, to + 1));
        assert.deepEqual(set.range(from, to, true), [...order].reverse().slice(from, to + 1));
      }
      const min = Math.floor(random() * 100);
      const max = min + Math.floor(random() * 30);
      const inScore = order.filter((m) => m.score >= min && m.score <= max);
      assert.deepEqual(set.rangeByScore(min, max, 7), inScore.slice(0, 7));
      assert.equal(set.countByScore(min, max), inScore.length);
      assert.equal(set.score(member), model.get(member));
    }
  }
  assert.deepEqual([...set], sorted(model));
});

Deno.test("SortedSet: infinite and negative scores, an update that keeps the score, bytes follow the members", () => {
  const set = new SortedSet();
  set.set("low", -Infinity);
  set.set("high", Infinity);
  set.set("zero", 0);
  set.set("neg", -2.5);
  assert.deepEqual([...set].map((m) => m.member), ["low", "neg", "zero", "high"]);
  assert.equal(set.set("zero", 0), false);
  assert.equal(set.countByScore(-Infinity, Infinity), 4);
  assert.equal(set.countByScore(1, 0), 0);
  const bytes = set.bytes;
  set.delete("neg");
  assert.ok(set.bytes < bytes);
  set.delete("low");
  set.delete("zero");
  set.delete("high");
  assert.equal(set.bytes, 0);
  assert.equal(set.size, 0);
  assert.deepEqual(set.range(0, 0, false), []);
});
