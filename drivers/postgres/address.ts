/**
 * Where the PostgreSQL driver connects, as postgres.js decides it (config, URL, PGHOST and
 * PGPORT), for TLS names and for messages that never show a password.
 *
 * @module
 */
import { type DbConfig, DriverError } from "../../db/mod.ts";
import { redactText, scrubError } from "../../internal/redact.ts";

/** The kit's host and port when neither the config, the URL nor PGHOST / PGPORT give one. */
export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 5432;

/**
 * A PostgreSQL variable of the environment as postgres.js sees it: unset when empty, and when
 * reading it is not permitted (the kit's defaults then apply, and postgres.js is not asked to
 * read it either).
 */
export function pgEnv(name: "PGHOST" | "PGPORT"): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The hosts postgres.js connects to for a pool without a URL host: the config's, else PGHOST's
 * (comma-separated, each maybe with a port, or a Unix socket directory), else the kit's default.
 * A URL with an empty authority (`postgres:///db`) gets PGHOST or postgres.js's `localhost`.
 */
export function hostsOf(config: DbConfig, url: string | undefined): string {
  return (url === undefined ? config.host : undefined) ?? pgEnv("PGHOST") ??
    (url === undefined ? DEFAULT_HOST : "localhost");
}

/**
 * `host:port` of a pool, for messages (never the password): where postgres.js 3.4 really connects,
 * PGHOST and PGPORT included, each host of a list with its own port or the default one.
 */
export function addressOf(config: DbConfig, url: string | undefined): string {
  const authority = url?.replace(/^[^:]*:\/\/([^@/?]*@)?/, "").split(/[/?]/)[0];
  const hosts = authority || hostsOf(config, url);
  // postgres.js's default port: the config's, else the URL's first host's, else PGPORT, else 5432.
  const first = hosts.split(",")[0].match(/^(?:\[[^\]]*\]|[^:]*):(\d+)$/)?.[1];
  const port = (url === undefined ? config.port : undefined) ?? (authority ? first : undefined) ??
    pgEnv("PGPORT") ?? DEFAULT_PORT;
  // A host with a '/' is the directory of a Unix socket.
  if (hosts.includes("/")) return `${hosts}/.s.PGSQL.${port}`;
  return hosts.split(",")
    .map((host) => /^(\[[^\]]*\]|[^:]*)$/.test(host) ? `${host}:${port}` : host)
    .join(",");
}

/** The password in a URL, decoded, if it has one. */
export function passwordOf(url: string | undefined): string | undefined {
  const userinfo = url?.match(/^[^:]*:\/\/([^@/?]*)@/)?.[1];
  const colon = userinfo?.indexOf(":") ?? -1;
  return colon < 0 ? undefined : decodeURIComponent(userinfo!.slice(colon + 1));
}

/** Why a pool could not connect, in words that say which failure it was, with the address. */
export function connectFailure(
  error: unknown,
  address: string,
  secrets: readonly string[],
): DriverError {
  const cause = error instanceof DriverError ? error.cause : error;
  const { code, message } = cause as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(cause);
  const kind = String(code ?? "");
  const reason = kind.startsWith("28")
    ? `authentication failed at ${address}: ${text}`
    : kind === "ECONNREFUSED"
    ? `connection refused at ${address} (no server listens there)`
    : kind === "CONNECT_TIMEOUT"
    ? `no connection to ${address} within the connect timeout`
    : /CERT|SSL|TLS|UNABLE_TO|SELF_SIGNED/.test(kind) || /certificate|\bTLS\b|\bSSL\b/i.test(text)
    ? `TLS to ${address} failed: ${text}`
    : `${text} (at ${address})`;
  const scrubbed = scrubError(cause, secrets);
  return new DriverError(
    "postgres",
    "connect",
    new Error(redactText(reason, secrets), { cause: scrubbed }),
  );
}
