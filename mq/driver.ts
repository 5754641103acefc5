/**
 * What a driver author needs to write a mq driver, and what the kit's own drivers use: the
 * driver interface, the error every backend failure becomes (`driverError` wraps one without its
 * credentials, `closedDriverError` refuses a call after close) and the helpers below it.
 * Applications import `@gochat/kit/mq` instead.
 *
 * @module
 */
export { closedDriverError, DriverError, driverError } from "../internal/errors.ts";
export { bindKeyPrefix } from "../internal/namespace.ts";
export { MemoryMqDriver } from "./memory.ts";
export { memberSubscription, partitionOf } from "./types.ts";
export type {
  DriverSubscribeOptions,
  DriverSubscription,
  GroupMember,
  IncomingRecord,
  MqDriver,
  OutgoingRecord,
  RecordHandler,
} from "./types.ts";
