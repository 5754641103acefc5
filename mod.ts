/**
 * gochat-kit for Deno: infrastructure components for microservices, each a
 * provider with an in-memory driver (standalone, the default) and a
 * distributed driver (cluster), swapped by passing a different `driver`.
 *
 * This root entry has one namespace per component.
 *
 * @example Logging with a generated id
 * ```ts
 * import { clog, uid } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = clog.memorySink();
 * using logger = clog.create(clog.defaultConfig("production"), { sinks: [sink] });
 * logger.namespace("orders").info("created", { id: uid.uuidv7() });
 * assert.equal(sink.records[0].namespace, "orders");
 * ```
 *
 * @module
 */
export * as clog from "./clog/mod.ts";
export * as uid from "./uid/mod.ts";
export * as coord from "./coord/mod.ts";
export * as cache from "./cache/mod.ts";
export * as db from "./db/mod.ts";
export * as mq from "./mq/mod.ts";
export * as ratelimit from "./ratelimit/mod.ts";
export * as once from "./once/mod.ts";
export * as breaker from "./breaker/mod.ts";
export * as metrics from "./metrics/mod.ts";
export * as es from "./es/mod.ts";
export * as retry from "./retry/mod.ts";
export * as health from "./health/mod.ts";
export * as rpc from "./rpc/mod.ts";
export * as http from "./http/mod.ts";
export * as env from "./env/mod.ts";
