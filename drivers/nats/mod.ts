/**
 * The NATS drivers of the kit: `natsMq`, mq on JetStream.
 *
 * Its conformance suite runs when `KIT_NATS_URL` is set.
 *
 * @example Cluster mode
 * ```ts ignore
 * import { mq } from "@gochat/kit";
 * import { natsMq } from "@gochat/kit/drivers/nats";
 *
 * await using queue = await mq.create(mq.defaultConfig("production"), {
 *   driver: natsMq({ servers: "nats://127.0.0.1:4222" }),
 * });
 * ```
 *
 * @module
 */
export { natsMq } from "./mq.ts";
export type { NatsMqDriver, NatsMqOptions } from "./mq.ts";
