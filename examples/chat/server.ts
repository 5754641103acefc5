/**
 * What every role's HTTP server has: its routes behind the kit's trace and metrics middleware,
 * `/metrics`, `/healthz` and `/readyz`, registration in coord's registry, and a graceful stop.
 *
 * @module
 */
import { type coord, health } from "../../mod.ts";
import { serveHandler, traceMiddleware } from "../../http/mod.ts";
import type { Services } from "./services.ts";

/** A route handler: the request and the path's named groups. */
export type Route = (
  request: Request,
  params: Record<string, string | undefined>,
) => Response | Promise<Response>;

/** A running role. */
export interface Role extends AsyncDisposable {
  /** Where it listens. */
  readonly url: string;
  /** Stops it: leaves the registry, drains the server, then runs `stop`. */
  close(): Promise<void>;
}

/** Options of {@linkcode serveRole}. */
export interface ServeRoleOptions {
  /** Registry name (`im-repo`); unregistered when absent. */
  readonly service?: string;
  /** Port; 0 picks a free one. */
  readonly port?: number;
  /** Routes by `METHOD /path/:name` (URLPattern syntax). */
  readonly routes: Readonly<Record<string, Route>>;
  /** Readiness checks. */
  readonly checks: health.HealthOptions["checks"];
  /** Closes what the role opened, after the server has drained. */
  readonly stop?: () => Promise<void>;
}

/** JSON with a status. */
export const json = (body: unknown, status = 200): Response => Response.json(body, { status });

/**
 * Serves a role.
 *
 * @param services The process's providers.
 * @param options Routes, registry name, port and checks.
 * @returns The running role.
 */
export async function serveRole(services: Services, options: ServeRoleOptions): Promise<Role> {
  const routes = Object.entries(options.routes).map(([spec, route]) => {
    const [method, pathname] = spec.split(" ");
    return { method, pattern: new URLPattern({ pathname }), route };
  });
  const probes = health.handlers({ checks: options.checks });
  const scrape = services.metrics.handler();
  const route = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") return scrape(request);
    if (path === "/healthz") return probes.healthz(request);
    if (path === "/readyz") return await probes.readyz(request);
    for (const { method, pattern, route } of routes) {
      const match = pattern.exec(request.url);
      if (match && (method === request.method || method === "ANY")) {
        try {
          return await route(request, match.pathname.groups);
        } catch (error) {
          services.logger.error("request failed", { path, err: error });
          return json({ error: (error as Error).message }, 500);
        }
      }
    }
    return json({ error: `no route for ${request.method} ${path}` }, 404);
  };
  const server = Deno.serve(
    { hostname: services.hostname, port: options.port ?? 0, onListen() {} },
    serveHandler(route, traceMiddleware(), services.metrics.middleware()),
  );
  const url = `http://${services.advertise}:${server.addr.port}`;
  let registration: coord.Registration | undefined;
  if (options.service) {
    const coordinator = await services.coord();
    registration = await coordinator.registry.register({
      id: `${options.service}-${crypto.randomUUID().slice(0, 8)}`,
      name: options.service,
      address: services.advertise,
      port: server.addr.port,
    });
  }
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      probes.drain();
      await registration?.unregister().catch(() => {});
      await server.shutdown();
      await options.stop?.();
    })();
  return { url, close, [Symbol.asyncDispose]: close };
}
