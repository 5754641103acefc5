/**
 * The `/metrics` endpoint: the driver's Prometheus text exposition, served for
 * GET and HEAD with Prometheus's content type. A driver that keeps no values
 * (it exports elsewhere, as OpenTelemetry does) answers 404.
 *
 * @module
 */

/** The content type of the Prometheus text format, version 0.0.4. */
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * A handler serving the Prometheus text exposition.
 *
 * @param driverName The driver's name, for the 404 text.
 * @param render The exposition now, or undefined when the driver keeps no values.
 * @returns The handler (mount it at `/metrics`).
 */
export function prometheusHandler(
  driverName: string,
  render: () => string | undefined,
): (request: Request) => Response {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const text = render();
    if (text === undefined) {
      return new Response(`The ${driverName} metrics driver exports elsewhere\n`, { status: 404 });
    }
    return new Response(request.method === "HEAD" ? null : text, {
      headers: { "content-type": CONTENT_TYPE },
    });
  };
}
