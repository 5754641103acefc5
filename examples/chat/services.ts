/**
 * The chat's providers, from the environment: memory drivers (PGlite for db) when it names no
 * service — standalone, one process — and the real services when it does (cluster mode), with
 * no change to the roles' code. Each provider is opened on first use and closed with the bundle.
 *
 * | variable | cluster driver |
 * |---|---|
 * | `ETCD_ENDPOINTS` | coord on etcd (registry, presence, instance ids, config center) |
 * | `REDIS_URL` | cache, once, ratelimit on Redis; mq on Redis Streams unless NATS or Kafka is named |
 * | `DATABASE_URL` / `PG*` | db on PostgreSQL; es on PostgreSQL too, unless `ES_URL` names Elasticsearch |
 * | `NATS_URL` / `KAFKA_BROKERS` | mq on NATS JetStream / Kafka |
 * | `CHAT_SECRET` | the key that signs login tokens (required in cluster mode) |
 * | `CHAT_COORD_PREFIX` | a key prefix for coord (`/staging`): several chats on one etcd |
 * | `CHAT_LEASE_TTL_MS` | the lease TTL of registrations, presence and instance ids (10 s) |
 * | `CHAT_TOPIC_PREFIX` | put before every mq topic name (`staging.`): several chats on one broker |
 * | `CHAT_HOSTNAME` | the address servers listen on (`127.0.0.1`; `0.0.0.0` in a container) |
 * | `CHAT_ADVERTISE` | the host name others reach this process by, as registered (`CHAT_HOSTNAME`) |
 *
 * @module
 */
import {
  breaker,
  cache,
  clog,
  coord,
  db,
  env as kitEnv,
  es,
  metrics,
  mq,
  once,
  ratelimit,
  uid,
} from "../../mod.ts";
import type { MqDriver } from "../../mq/driver.ts";

/** The providers one process of the chat uses, opened on first use. */
export interface Services extends AsyncDisposable {
  /** `standalone` (memory drivers) or `cluster`. */
  readonly mode: "standalone" | "cluster";
  /** `dev` or `prod`: the env segment of config-center keys. */
  readonly envName: string;
  /** The key that signs login tokens. */
  readonly secret: string;
  /** The address servers listen on. */
  readonly hostname: string;
  /** The host name registered for others to call. */
  readonly advertise: string;
  /** The broker's name of one of the chat's topics (`CHAT_TOPIC_PREFIX` before it). */
  topic(name: string): string;
  readonly logger: clog.Logger;
  readonly metrics: metrics.Metrics;
  coord(): Promise<coord.Coord>;
  cache(): Promise<cache.Cache>;
  db(): Promise<db.Db>;
  mq(): Promise<mq.Mq>;
  ratelimit(service: string): Promise<ratelimit.RateLimiter>;
  once(): Promise<once.Once>;
  breakers(service: string): Promise<breaker.Breakers>;
  search(): Promise<es.Search>;
  ids(service: string): Promise<uid.Snowflake>;
}

/** Opens `make()` once, on first use, and remembers it for closing. */
function lazy<T extends { close(): Promise<void> }>(
  opened: (() => Promise<void>)[],
  make: () => Promise<T>,
): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () =>
    value ??= make().then((provider) => {
      opened.push(() => provider.close());
      return provider;
    });
}

/** {@linkcode lazy} per name: one provider per service name. */
function lazyBy<T extends { close(): Promise<void> }>(
  opened: (() => Promise<void>)[],
  make: (name: string) => Promise<T>,
): (name: string) => Promise<T> {
  const byName = new Map<string, () => Promise<T>>();
  return (name) => {
    let get = byName.get(name);
    if (get === undefined) byName.set(name, get = lazy(opened, () => make(name)));
    return get();
  };
}

/** The rate limit of a connection's sends, until the config center says otherwise. */
export const DEFAULT_RULES = { send: { rate: 5, burst: 10 } };

/**
 * Opens the providers the environment names.
 *
 * @param variables Where to read the environment; `Deno.env` by default.
 * @returns The bundle.
 * @throws {TypeError} In cluster mode without `CHAT_SECRET`.
 */
export async function openServices(
  variables: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<Services> {
  const settings = kitEnv.read(variables);
  const nats = variables.NATS_URL || undefined;
  const esUrl = variables.ES_URL || undefined;
  const cluster = settings.redis !== undefined || settings.postgres !== undefined ||
    settings.etcd !== undefined || settings.kafka !== undefined || nats !== undefined;
  const secret = variables.CHAT_SECRET ||
    (cluster ? undefined : crypto.randomUUID());
  if (secret === undefined) {
    throw new TypeError(
      "Cannot start the chat in cluster mode as CHAT_SECRET is not set: every gateway signs and checks login tokens with it",
    );
  }
  const environment = settings.environment;
  const envName = environment === "production" ? "prod" : "dev";
  const logger = clog.namespace("chat");
  const registry = await metrics.create(metrics.defaultConfig(environment));
  const opened: (() => Promise<void>)[] = [];
  const keyPrefix = `${settings.service ?? "chat"}:`;
  const leaseTtlMs = Number(variables.CHAT_LEASE_TTL_MS || 10_000);
  const coordOf = lazy(opened, async () =>
    coord.create({
      ...coord.defaultConfig(environment),
      leaseTtlMs,
      keyPrefix: variables.CHAT_COORD_PREFIX || undefined,
    }, {
      driver: settings.etcd
        ? (await import("../../drivers/etcd.ts")).etcdCoord(settings.etcd)
        : undefined,
      metrics: registry,
    }));
  const redis = settings.redis &&
    (() => import("../../drivers/redis/mod.ts"));
  const dbOf = lazy(
    opened,
    async () =>
      settings.postgres
        ? db.create({ ...db.defaultConfig(environment), ...settings.postgres }, {
          driver: (await import("../../drivers/postgres/mod.ts")).postgresDb(),
          metrics: registry,
        })
        : db.create(db.defaultConfig("development"), { metrics: registry }),
  );

  const mqDriver = async (): Promise<MqDriver | undefined> => {
    if (settings.kafka) return (await import("../../drivers/kafka.ts")).kafkaMq(settings.kafka);
    if (nats) return (await import("../../drivers/nats/mod.ts")).natsMq({ servers: nats });
    if (redis) return (await redis()).redisMq(settings.redis);
    return undefined;
  };
  const services: Services = {
    mode: cluster ? "cluster" : "standalone",
    envName,
    secret,
    hostname: variables.CHAT_HOSTNAME || "127.0.0.1",
    advertise: variables.CHAT_ADVERTISE || variables.CHAT_HOSTNAME || "127.0.0.1",
    topic: (name) => `${variables.CHAT_TOPIC_PREFIX ?? ""}${name}`,
    logger,
    metrics: registry,
    coord: coordOf,
    cache: lazy(opened, async () =>
      cache.create(
        { ...cache.defaultConfig(environment), keyPrefix: redis ? keyPrefix : undefined },
        {
          driver: redis ? (await redis()).redisCache(settings.redis) : undefined,
          metrics: registry,
        },
      )),
    db: dbOf,
    mq: lazy(opened, async () =>
      mq.create(
        // A handler waiting out a dead instance's once lock retries for ~25 s before dead-lettering.
        { ...mq.defaultConfig("development"), retryBackoffMs: 100, maxRetries: 8 },
        { driver: await mqDriver(), metrics: registry },
      )),
    ratelimit: lazyBy(opened, async (service) =>
      ratelimit.create(
        {
          ...ratelimit.defaultConfig(environment),
          rules: DEFAULT_RULES,
          env: envName,
          service,
          keyPrefix: redis ? keyPrefix : undefined,
        },
        {
          coord: await coordOf(),
          driver: redis ? (await redis()).redisRateLimit(settings.redis) : undefined,
          metrics: registry,
        },
      )),
    once: lazy(opened, async () =>
      once.create(
        {
          ...once.defaultConfig(environment),
          lockTtlMs: leaseTtlMs, // a dead logic's in-progress message is taken over this soon
          keyPrefix: redis ? keyPrefix : undefined,
        },
        {
          driver: redis ? (await redis()).redisOnce(settings.redis) : undefined,
          metrics: registry,
        },
      )),
    breakers: lazyBy(opened, async (service) =>
      breaker.create(
        { ...breaker.defaultConfig(environment), env: envName, service },
        { coord: await coordOf(), metrics: registry },
      )),
    search: lazy(opened, async () => {
      if (esUrl) {
        const { elasticsearchSearch } = await import("../../drivers/elasticsearch.ts");
        return es.create({ ...es.defaultConfig(environment), keyPrefix: `${keyPrefix}` }, {
          driver: elasticsearchSearch({ url: esUrl }),
        });
      }
      if (settings.postgres) {
        return es.create({ ...es.defaultConfig(environment), keyPrefix: "chat_" }, {
          driver: es.sqlSearch({ db: await dbOf() }),
        });
      }
      return es.create(es.defaultConfig("development"));
    }),
    ids: lazyBy(
      opened,
      async (service) =>
        uid.create({ ...uid.defaultConfig("production"), service }, { coord: await coordOf() }),
    ),
    async [Symbol.asyncDispose]() {
      // Last opened, first closed: the search index on db closes before db.
      for (const close of opened.reverse()) await close().catch(() => {});
      await registry.close();
    },
  };
  return services;
}
