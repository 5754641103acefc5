/**
 * TLS details the drivers share.
 *
 * @module
 */
import { isIP } from "node:net";

/**
 * The server name to ask a TLS connection for, so that the certificate is checked against
 * `host`. Deno's TLS refuses an IP address as the server name, so an IP is written fully
 * qualified (`127.0.0.1.`): accepted as a name, and still checked against the certificate's IP
 * addresses. A bracketed IPv6 host loses its brackets.
 *
 * @param host A DNS name or an IP address.
 * @returns The name to pass as `servername`.
 */
export function tlsServername(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1");
  return isIP(bare) !== 0 ? `${bare}.` : host;
}
