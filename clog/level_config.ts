/**
 * The log level hot-reloaded from the config center, as the Go kit's declarative config does:
 * `/config/{env}/{service}/clog` holds `{"level": "debug"}` (its `LogConfig`; other fields are
 * ignored), and every accepted change applies to the whole logger tree at once. A bad value is
 * refused by the config manager, which keeps the last good level and logs why.
 *
 * @module
 */
import type { RootLogger } from "./logger.ts";
import { type Level, LEVELS } from "./types.ts";

/** The stored value: the Go kit's `LogConfig`. */
export interface LogConfig {
  /** The level to log at. */
  readonly level: Level;
}

/**
 * The part of a coord provider the watch needs (`coord.create(…)` returns one); structural, so
 * clog imports nothing of coord.
 */
export interface LevelConfigSource {
  /** The config center: `coord`'s `config` group. */
  readonly config: {
    /** A live, validated snapshot of one key. */
    manager(key: string, options: {
      readonly default: LogConfig;
      readonly validate?: (value: unknown) => LogConfig;
    }): Promise<{
      readonly current: LogConfig;
      onChange(listener: (value: LogConfig, previous: LogConfig) => void): () => void;
      close(): Promise<void>;
    }>;
  };
}

/** Where the level lives and which tree it drives. */
export interface WatchLevelOptions {
  /** Environment segment of the key (`prod`). */
  readonly env: string;
  /** Service segment of the key (`im-logic`). */
  readonly service: string;
  /** The tree whose level follows the key; the global one by default. */
  readonly logger?: RootLogger;
}

const SEGMENT = /^[^/\s]+$/;

/**
 * Checks a stored log config.
 *
 * @param value What the config center holds, parsed.
 * @returns The log config.
 * @throws {TypeError} When it is not an object with a known `level`.
 */
export function parseLogConfig(value: unknown): LogConfig {
  const level = (value as { level?: unknown } | null)?.level;
  if (value === null || typeof value !== "object" || !LEVELS.includes(level as Level)) {
    throw new TypeError(
      `log config must be an object whose 'level' is one of ${
        LEVELS.join(", ")
      }: current value is ${JSON.stringify(value)}`,
    );
  }
  return { level: level as Level };
}

/**
 * Makes a logger tree's level follow `/config/{env}/{service}/clog` in the config center; until
 * the key holds a value the level stays as configured.
 *
 * @param coord A coord provider.
 * @param options The key's segments and the logger tree.
 * @param root The global tree, when `options.logger` is absent.
 * @returns A handle that stops following the key.
 * @throws {TypeError} When `env` or `service` is empty or holds a slash.
 */
export async function watchLevel(
  coord: LevelConfigSource,
  options: WatchLevelOptions,
  root: RootLogger,
): Promise<AsyncDisposable & { close(): Promise<void> }> {
  for (const name of ["env", "service"] as const) {
    if (typeof options[name] !== "string" || !SEGMENT.test(options[name])) {
      throw new TypeError(
        `Cannot watch the log level as '${name}' must be a non-empty key segment without '/': current value is ${
          JSON.stringify(options[name])
        }`,
      );
    }
  }
  const logger = options.logger ?? root;
  const manager = await coord.config.manager(`/config/${options.env}/${options.service}/clog`, {
    default: { level: logger.level },
    validate: parseLogConfig,
  });
  logger.setLevel(manager.current.level);
  const stop = manager.onChange((value) => logger.setLevel(value.level));
  const close = async () => {
    stop();
    await manager.close();
  };
  return { close, [Symbol.asyncDispose]: close };
}
