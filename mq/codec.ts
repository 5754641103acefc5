/**
 * How a topic's values become bytes on the broker and back. The provider's serializer (JSON that
 * keeps bigints) is the default for every topic; `codecs` in the create options pick another per
 * topic: {@linkcode textCodec} passes strings untouched, {@linkcode bytesCodec} passes bytes
 * untouched (a protobuf message from a Go producer reaches the handler as it was sent, and is not
 * dead-lettered as bad JSON).
 *
 * @module
 */
import type { Serializer } from "../internal/json.ts";

/** A topic's codec. A driver may hand back as bytes a value that was sent as a string (Kafka does). */
export interface Codec {
  /**
   * Encodes a value; throws a `TypeError` naming `what` when it cannot.
   *
   * @param value The value.
   * @param what What it is, for the message.
   */
  encode(value: unknown, what: string): string | Uint8Array;
  /** Decodes what the driver delivered. */
  decode(data: string | Uint8Array): unknown;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The text of a delivered value (UTF-8 when the driver gave bytes). */
export function textOf(data: string | Uint8Array): string {
  return typeof data === "string" ? data : decoder.decode(data);
}

/** Strings untouched: what a producer sends is the text on the broker, byte for byte. */
export const textCodec: Codec = Object.freeze({
  encode(value: unknown, what: string): string {
    if (typeof value !== "string") {
      throw new TypeError(
        `Cannot encode ${what} as the text codec takes strings: it is ${typeof value}`,
      );
    }
    return value;
  },
  decode: textOf,
});

/** Bytes untouched, both ways: the handler gets a `Uint8Array`. */
export const bytesCodec: Codec = Object.freeze({
  encode(value: unknown, what: string): Uint8Array {
    if (!(value instanceof Uint8Array)) {
      throw new TypeError(`Cannot encode ${what} as the bytes codec takes a Uint8Array`);
    }
    return value;
  },
  decode(data: string | Uint8Array): Uint8Array {
    return typeof data === "string" ? encoder.encode(data) : data;
  },
});

/** A serializer as a codec: bytes from the driver are read as UTF-8 text first. */
export function serializerCodec(serializer: Serializer): Codec {
  return {
    encode: (value, what) => serializer.encode(value, what),
    decode: (data) => serializer.decode(textOf(data)),
  };
}

/**
 * Checks the `codecs` create option: topic names to codecs.
 *
 * @throws {TypeError} When it is not an object of codecs.
 */
export function codecsOption(option: unknown): Readonly<Record<string, Codec>> {
  if (option === undefined) return {};
  if (option === null || typeof option !== "object" || Array.isArray(option)) {
    throw new TypeError(
      `Cannot create mq as 'codecs' must be an object of topic names to codecs: current value is ${
        String(option)
      }`,
    );
  }
  for (const [topic, codec] of Object.entries(option)) {
    const candidate = codec as Partial<Codec> | null;
    if (typeof candidate?.encode !== "function" || typeof candidate?.decode !== "function") {
      throw new TypeError(
        `Cannot create mq as 'codecs.${topic}' must have encode and decode functions`,
      );
    }
  }
  return option as Record<string, Codec>;
}
