import assert from "node:assert/strict";
import { turnClock } from "./clock.ts";

Deno.test("turnClock reads the clock once per microtask turn", async () => {
  const first = turnClock();
  const until = Date.now() + 5;
  while (Date.now() < until) { /* let the real clock move on */ }
  assert.equal(turnClock(), first, "the same turn gets the same value");
  assert.ok(Date.now() > first);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = turnClock();
  assert.ok(later >= first + 5, `a later turn reads the clock again: ${later - first} ms later`);
  assert.ok(Math.abs(later - Date.now()) <= 1, "and is current");
});
