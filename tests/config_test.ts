/**
 * Every component's `create` and every driver factory refuses a key it does not know, naming it
 * and listing the allowed ones, so a misspelt or misplaced setting is never silently ignored.
 */
import assert from "node:assert/strict";
import {
  breaker,
  cache,
  clog,
  coord,
  db,
  es,
  metrics,
  mq,
  once,
  ratelimit,
  retry,
  uid,
} from "../mod.ts";
import { elasticsearchSearch } from "../drivers/elasticsearch.ts";
import { etcdCoord } from "../drivers/etcd.ts";
import { kafkaMq } from "../drivers/kafka.ts";
import { otelMetrics } from "../drivers/otel.ts";
import { pgliteDb } from "../drivers/pglite.ts";
import { postgresDb, postgresSearch } from "../drivers/postgres/mod.ts";
import { redisCache, redisLock, redisMq, redisOnce, redisRateLimit } from "../drivers/redis/mod.ts";
import { errorOf } from "./_error_of.ts";

/** What is made, the unknown key it is given, and how to make it with that key. */
const UNKNOWN_KEYS: [string, string, (extra: Record<string, unknown>) => unknown][] = [
  ["clog", "levle", (extra) => clog.create({ ...clog.defaultConfig("production"), ...extra })],
  ["uid", "worker", (extra) => uid.create({ ...uid.defaultConfig("development"), ...extra })],
  [
    "coord",
    "prefix",
    (extra) => coord.create({ ...coord.defaultConfig("production"), ...extra }),
  ],
  ["cache", "ttlMs", (extra) => cache.create({ ...cache.defaultConfig("production"), ...extra })],
  ["db", "ssl", (extra) => db.create({ ...db.defaultConfig("production"), ...extra })],
  ["mq", "brokers", (extra) => mq.create({ ...mq.defaultConfig("production"), ...extra })],
  [
    "ratelimit",
    "rule",
    (extra) => ratelimit.create({ ...ratelimit.defaultConfig("production"), ...extra }),
  ],
  ["once", "ttlMs", (extra) => once.create({ ...once.defaultConfig("production"), ...extra })],
  [
    "breaker",
    "policy",
    (extra) => breaker.create({ ...breaker.defaultConfig("production"), ...extra }),
  ],
  ["retry policy", "retries", (extra) => retry.do(() => Promise.resolve(1), { ...extra })],
  ["retry budget", "perSecond", (extra) => retry.budget({ ...extra })],
  ["es", "prefix", (extra) => es.create({ ...es.defaultConfig("production"), ...extra })],
  [
    "metrics",
    "labels",
    (extra) => metrics.create({ ...metrics.defaultConfig("production"), ...extra }),
  ],
  ["redisCache", "keyPrefix", (extra) => redisCache({ url: "redis://127.0.0.1:1", ...extra })],
  ["redisLock", "ttl", (extra) => redisLock({ url: "redis://127.0.0.1:1", ...extra })],
  ["redisMq", "prefix", (extra) => redisMq({ url: "redis://127.0.0.1:1", ...extra })],
  [
    "redisRateLimit",
    "retention",
    (extra) => redisRateLimit({ url: "redis://127.0.0.1:1", ...extra }),
  ],
  ["redisOnce", "keyPrefix", (extra) => redisOnce({ url: "redis://127.0.0.1:1", ...extra })],
  ["postgresDb", "ssl", (extra) => postgresDb({ ...extra })],
  ["postgresSearch", "indexPrefix", (extra) => postgresSearch({ url: "postgres://x/y", ...extra })],
  ["pgliteDb", "url", (extra) => pgliteDb({ ...extra })],
  ["etcdCoord", "prefix", (extra) => etcdCoord({ endpoints: "http://127.0.0.1:1", ...extra })],
  ["kafkaMq", "topic", (extra) => kafkaMq({ brokers: "127.0.0.1:1", ...extra })],
  [
    "elasticsearchSearch",
    "indexPrefix",
    (extra) => elasticsearchSearch({ url: "http://127.0.0.1:1", ...extra }),
  ],
  ["otelMetrics", "prefix", (extra) => otelMetrics({ ...extra })],
];

for (const [component, key, make] of UNKNOWN_KEYS) {
  Deno.test(`${component}: an unknown key '${key}' is refused, naming it and the allowed keys`, async () => {
    const error = await errorOf(() => make({ [key]: 1 }));
    assert.ok(error instanceof TypeError, `${component}: ${error}`);
    assert.match(
      error.message,
      new RegExp(
        `^Cannot [\\w ]+ as '${key}' is not (a config key|an option|a policy field) \\(allowed: \\w`,
      ),
    );
    // Two at once are both named.
    const both = await errorOf(() => make({ [key]: 1, zzz: 2 }));
    assert.match(both.message, new RegExp(`'${key}', 'zzz' are not`));
  });
}

Deno.test("the message says what to do for a key that belongs elsewhere: ssl is the driver's tls", async () => {
  assert.match(
    (await errorOf(() => db.create({ ...db.defaultConfig("production"), ssl: true } as never)))
      .message,
    /^Cannot create db as 'ssl' is not a config key \(allowed: url, host, .*\); for 'ssl', TLS is a driver option: postgresDb\(\{ url, tls: \{ ca \} \}\)$/,
  );
  assert.match(
    (await errorOf(() => postgresDb({ ssl: true } as never))).message,
    /'ssl' is not an option \(allowed: client, applicationName, connectTimeoutMs, tls\); for 'ssl', use 'tls'/,
  );
  assert.match(
    (await errorOf(() => redisCache({ ssl: true } as never))).message,
    /'ssl' is not an option .*; for 'ssl', use 'tls'/,
  );
});

Deno.test("a config that is not an object is refused, naming the argument", async () => {
  for (const config of [null, 5, "x", []]) {
    const error = await errorOf(() => cache.create(config as never));
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /^Cannot create cache as 'config' must be an object/);
  }
  assert.match(
    (await errorOf(() => redisCache(null as never))).message,
    /^Cannot create redisCache as 'options' must be an object: current value is null/,
  );
});

Deno.test("once refuses a wrongly typed keyPrefix, wait or cacheFailures", async () => {
  const base = once.defaultConfig("production");
  for (
    const [field, value, message] of [
      ["keyPrefix", 5, /'keyPrefix' must be a well-formed Unicode string: current value is 5/],
      ["wait", "yes", /'wait' must be a boolean: current value is "yes"/],
      ["cacheFailures", 1, /'cacheFailures' must be a boolean: current value is 1/],
    ] as const
  ) {
    const error = await errorOf(() => once.create({ ...base, [field]: value }));
    assert.ok(error instanceof TypeError);
    assert.match(error.message, message);
  }
});

Deno.test("an empty lock key is refused by cache and coord locks", async () => {
  await using kv = await cache.create(cache.defaultConfig("development"));
  await using center = await coord.create(coord.defaultConfig("development"));
  for (const lock of [kv.lock, center.lock]) {
    await assert.rejects(lock.tryAcquire(""), /'key' must be a non-empty string/);
    await assert.rejects(lock.acquire(""), /'key' must be a non-empty string/);
  }
});
