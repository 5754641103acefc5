/**
 * Built-in sinks: a writer for stdout, stderr or a file, and a memory sink for tests.
 *
 * @module
 */
import type { Formatter } from "./format.ts";
import type { LogRecord, Sink } from "./types.ts";

/** Something clog can write bytes to synchronously (`Deno.stdout`, `Deno.FsFile`). */
export interface SyncWriter {
  /** Writes some of `bytes`, returning how many were written. */
  writeSync(bytes: Uint8Array): number;
  /** Releases the writer. */
  close?(): void;
}

/** Options of {@linkcode writerSink}. */
export interface WriterSinkOptions {
  /** Turns a record into a line. */
  readonly formatter: Formatter;
  /**
   * Bytes collected before a write; 0 writes every line at once.
   * @default {0}
   */
  readonly bufferBytes?: number;
  /**
   * With a buffer, the longest time a line waits before it is written.
   * @default {1000}
   */
  readonly flushIntervalMs?: number;
  /**
   * Close the writer when the sink is closed (true for a file clog opened itself).
   * @default {false}
   */
  readonly closeWriter?: boolean;
}

// Buffered sinks still open at process exit; they are flushed from the unload event.
const openBuffered = new Set<Sink>();
let unloadHooked = false;

function flushAtExit(): void {
  for (const sink of openBuffered) {
    try {
      sink.flush?.();
    } catch {
      // Nothing can be reported any more at this point; the other sinks still get flushed.
    }
  }
}

/**
 * A sink that formats each record and writes it synchronously to `writer`,
 * either line by line or through a buffer.
 *
 * @param writer Destination, such as `Deno.stdout` or an open `Deno.FsFile`.
 * @param options Formatter and buffering.
 * @returns The sink, with `flush()` and `close()`.
 * @throws {RangeError} When `bufferBytes` or `flushIntervalMs` is not a non-negative integer.
 *
 * @example Writing JSON lines to a custom writer
 * ```ts
 * import { writerSink } from "./sinks.ts";
 * import { jsonFormatter } from "./format.ts";
 * import assert from "node:assert/strict";
 *
 * const chunks: Uint8Array[] = [];
 * const sink = writerSink({ writeSync: (b) => (chunks.push(b.slice()), b.length) }, {
 *   formatter: jsonFormatter(),
 * });
 * sink({ time: 0, level: "info", namespace: "", msg: "hi", traceId: undefined, bound: {}, fields: {} });
 * assert.match(new TextDecoder().decode(chunks[0]), /"msg":"hi"/);
 * ```
 */
export function writerSink(writer: SyncWriter, options: WriterSinkOptions): Sink {
  const { formatter, bufferBytes = 0, flushIntervalMs = 1000, closeWriter = false } = options;
  requireNonNegativeInteger("bufferBytes", bufferBytes);
  requireNonNegativeInteger("flushIntervalMs", flushIntervalMs);
  const encoder = new TextEncoder();
  let buffer = new Uint8Array(Math.max(bufferBytes, 8192));
  let used = 0;
  let closed = false;

  const writeAll = (bytes: Uint8Array): void => {
    let offset = 0;
    while (offset < bytes.length) offset += writer.writeSync(bytes.subarray(offset));
  };
  const flush = (): void => {
    if (used === 0) return;
    const pending = used;
    used = 0;
    writeAll(buffer.subarray(0, pending));
  };

  const sink: Sink = (record: LogRecord): void => {
    if (closed) return;
    const line = formatter(record);
    // A UTF-16 code unit never takes more than three UTF-8 bytes.
    if (line.length * 3 > buffer.length - used) {
      flush();
      if (line.length * 3 > buffer.length) buffer = new Uint8Array(line.length * 3);
    }
    used += encoder.encodeInto(line, buffer.subarray(used)).written;
    if (used >= bufferBytes) flush();
  };

  let timer: ReturnType<typeof setInterval> | undefined;
  if (bufferBytes > 0) {
    openBuffered.add(sink);
    if (!unloadHooked) {
      unloadHooked = true;
      globalThis.addEventListener("unload", flushAtExit);
    }
    if (flushIntervalMs > 0) {
      const interval = setInterval(() => {
        try {
          flush();
        } catch (error) {
          reportSinkFailure(error);
        }
      }, flushIntervalMs);
      // The flush timer must not keep an otherwise finished process alive.
      Deno.unrefTimer(interval);
      timer = interval;
    }
  }

  sink.flush = flush;
  sink.close = () => {
    if (closed) return;
    try {
      flush();
    } finally {
      closed = true;
      openBuffered.delete(sink);
      if (timer !== undefined) clearInterval(timer);
      if (closeWriter) writer.close?.();
    }
  };
  return sink;
}

function requireNonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create sink as '${name}' must be a non-negative integer: current value is ${value}`,
    );
  }
}

let sinkFailureReported = false;

/** Reports the first failure of a sink on stderr; logging itself never throws. */
export function reportSinkFailure(error: unknown): void {
  if (sinkFailureReported) return;
  sinkFailureReported = true;
  try {
    const message = error instanceof Error ? error.stack ?? error.message : String(error);
    console.error(`clog: a sink failed and its lines are dropped: ${message}`);
  } catch {
    // stderr itself is gone; there is nowhere left to report.
  }
}

/** A sink that keeps every record in memory, for tests. */
export interface MemorySink extends Sink {
  /** Records received so far, oldest first. */
  readonly records: LogRecord[];
  /** Forgets the records received so far. */
  clear(): void;
}

/**
 * Creates a sink that keeps records in memory, for asserting on logs in tests.
 *
 * @returns The sink; read `records`.
 *
 * @example Capturing a line
 * ```ts
 * import { memorySink } from "./sinks.ts";
 * import { create } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const sink = memorySink();
 * const logger = create({ level: "info", format: "json", output: "stdout" }, { sinks: [sink] });
 * logger.namespace("im").info("hello", { user: 1 });
 * assert.equal(sink.records[0].namespace, "im");
 * assert.deepEqual(sink.records[0].fields, { user: 1 });
 * ```
 */
export function memorySink(): MemorySink {
  const records: LogRecord[] = [];
  const sink = ((record: LogRecord) => {
    records.push(record);
  }) as MemorySink;
  Object.defineProperty(sink, "records", { value: records, enumerable: true });
  sink.clear = () => {
    records.length = 0;
  };
  return sink;
}
