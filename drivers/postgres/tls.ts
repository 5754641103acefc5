/**
 * Verified TLS of the PostgreSQL driver: the `tls` option, its checks, and postgres.js's
 * `ssl` settings from it.
 *
 * @module
 */
import { tlsServername } from "../../internal/tls.ts";

/** TLS settings of {@linkcode PostgresDbOptions.tls}; the server's certificate is always checked. */
export interface PostgresTlsOptions {
  /**
   * CA certificate(s) (PEM) the server's certificate must chain to.
   * @default {the system's CAs}
   */
  readonly ca?: string;
  /** Client certificate (PEM), for servers that ask for one (`clientcert=verify-full`); needs `key`. */
  readonly cert?: string;
  /** Private key (PEM) of `cert`. */
  readonly key?: string;
  /**
   * The name the server's certificate must carry, a DNS name or an IP address, when it is not
   * the host connected to.
   * @default {the host of the URL or config}
   */
  readonly servername?: string;
}

/** Refuses a `tls` option that is not `true` or an object of non-empty strings. */
export function checkTls(tls: unknown): void {
  if (tls === undefined || tls === true) return;
  const fields = tls as Record<string, unknown>;
  const bad = typeof tls !== "object" || tls === null
    ? ["tls", tls]
    : (["ca", "cert", "key", "servername"] as const)
      .map((field) => [`tls.${field}`, fields[field]] as const)
      .find(([, value]) => value !== undefined && (typeof value !== "string" || value === ""));
  if (bad) {
    throw new TypeError(
      `Cannot create postgres driver as '${bad[0]}' must be ${
        bad[0] === "tls" ? "true or an object" : "a non-empty string"
      }: current value is ${typeof bad[1] === "string" ? JSON.stringify(bad[1]) : String(bad[1])}`,
    );
  }
  if ((fields.cert === undefined) !== (fields.key === undefined)) {
    throw new TypeError("Cannot create postgres driver as 'tls.cert' and 'tls.key' go together");
  }
}

/** postgres.js's `ssl` for verified TLS to `host` (see {@linkcode tlsServername} for IPs). */
export function sslSettings(tls: true | PostgresTlsOptions, host: string): Record<string, unknown> {
  const { ca, cert, key, servername } = tls === true ? {} as PostgresTlsOptions : tls;
  const name = servername ?? host;
  return {
    rejectUnauthorized: true,
    servername: tlsServername(name),
    ...(ca === undefined ? {} : { ca }),
    ...(cert === undefined ? {} : { cert, key }),
  };
}
