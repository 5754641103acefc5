/**
 * The mq conformance suite on Redis Streams, for each topology the Redis tests run (one server,
 * a cluster, a Sentinel-managed primary): the same failure detection, the crash hook, a child
 * process for the killed-consumer case and the outbox database.
 */
import { mqConformance } from "../../../mq/conformance.ts";
import { outboxDatabase } from "../../testdata/outbox_database.ts";
import type { RedisOptions } from "../connection.ts";
import { redisMq } from "../mod.ts";
import type { RedisMqDriver } from "../mq.ts";

/**
 * Registers the mq suite as `[name] mq: …` on a driver with `connection`.
 *
 * @param name The suite's name (`redis`, `redis-cluster`, …).
 * @param connection Where Redis is; must be passable to a child process (plain data).
 * @param ignore Whether the topology is unavailable here.
 */
export function redisMqSuite(name: string, connection: RedisOptions, ignore: boolean): void {
  const options = { ...connection, sessionTimeoutMs: 1500, heartbeatMs: 300 };
  mqConformance({
    name,
    makeDriver: () => redisMq(options),
    crash: (driver) => (driver as RedisMqDriver).crash(),
    processDriver: {
      module: new URL("../mod.ts", import.meta.url),
      factory: "redisMq",
      options,
    },
    failoverMs: 2000,
    // The outbox on the real PostgreSQL when CI gives one, else on PGlite.
    makeDatabase: outboxDatabase,
    ignore,
  });
}
