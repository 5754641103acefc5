/**
 * What the operation groups (string, hash, set, zset) share: the context the
 * provider gives them, their argument checks, and the binding of a group to
 * an AbortSignal behind `withSignal`.
 *
 * @module
 */
import type { Serializer } from "../internal/json.ts";
import { underSignal } from "../internal/signal.ts";
import type { BoundCounter } from "../metrics/mod.ts";
import { type Keyspace, requireText } from "./_util.ts";
import type { TraceInfo } from "./trace.ts";
import type { CacheDriver } from "./types.ts";

/** What every operation group gets from the provider. */
export interface OpsContext {
  readonly driver: CacheDriver;
  /** Turns a caller's key into its backend key. */
  readonly keyspace: Keyspace;
  readonly serializer: Serializer;
  /** Counters of `string.get`, when the provider was given metrics. */
  readonly counters?: Record<"hit" | "miss", BoundCounter>;
  /** What the provider's spans say of it: driver and key prefix. */
  readonly trace: TraceInfo;
}

/** Encodes a value for key `name` (named in the serializer's errors). */
export function encodeValue(context: OpsContext, value: unknown, name: string): string {
  return context.serializer.encode(value, `the value of key '${name}'`);
}

/** Decodes stored text; a miss stays undefined. */
export function decodeValue<T>(context: OpsContext, text: string | undefined): T | undefined {
  return text === undefined ? undefined : context.serializer.decode(text) as T;
}

/** The backend keys of one or more caller keys. */
export function requireKeys(
  keyspace: Keyspace,
  action: string,
  names: readonly string[],
): string[] {
  if (!Array.isArray(names) || names.length === 0) {
    throw new TypeError(`Cannot ${action} as at least one key is needed`);
  }
  return names.map((name) => keyspace.key(action, name));
}

/** A rank: a safe integer. */
export function requireInteger(action: string, name: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be an integer: current value is ${value}`,
    );
  }
  return value;
}

/** A counter's step: results must stay safe integers, so the step must be one. */
export function requireStep(action: string, value: unknown): number {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot ${action} as 'delta' must be a number: current value is ${typeof value}`,
    );
  }
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(
      `Cannot ${action} as 'delta' must be a safe integer (at most ±${Number.MAX_SAFE_INTEGER}): current value is ${value}`,
    );
  }
  return value;
}

/** A sorted-set score: any number but NaN. */
export function requireScore(action: string, value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(
      `Cannot ${action} as 'score' must be a number: current value is ${value}`,
    );
  }
  return value;
}

/** Members or fields: strings that reach the backend as they are, so well-formed ones. */
export function requireMembers(
  action: string,
  values: readonly string[],
  name = "member",
): readonly string[] {
  if (values.length === 0) {
    throw new TypeError(`Cannot ${action} as at least one ${name} is needed`);
  }
  for (const value of values) requireText(action, name, value);
  return values;
}

/** A copy of an operation group whose calls are refused, or stop waiting, once `signal` aborts. */
export function bindSignal<T extends object>(group: T, signal: AbortSignal): T {
  const bound: Record<string, unknown> = {};
  for (const [name, operation] of Object.entries(group)) {
    const call = operation as (...args: unknown[]) => Promise<unknown>;
    bound[name] = (...args: unknown[]) => underSignal(signal, () => call(...args));
  }
  return bound as T;
}
