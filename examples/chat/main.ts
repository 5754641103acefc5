/**
 * GoChat built from the kit: `deno task chat` runs the four roles in one process on memory
 * drivers (PGlite for db) and prints the page's address; `deno run -A examples/chat/main.ts
 * <gateway|logic|repo|task>` runs one role in cluster mode against the services the environment
 * names (see `services.ts`), the same code either way.
 *
 * Environment: `PORT` (the role's port; the gateway's in `all`, 8080 by default there, else any
 * free port), and the variables of `services.ts`.
 *
 * @module
 */
import { startGateway } from "./gateway.ts";
import { startLogic } from "./logic.ts";
import { startRepo } from "./repo.ts";
import type { Role } from "./server.ts";
import { openServices, type Services } from "./services.ts";
import { startTask } from "./task.ts";

/** The roles a process can run. */
export type RoleName = "all" | "gateway" | "logic" | "repo" | "task";

/** A running chat process. */
export interface Chat extends AsyncDisposable {
  /** The gateway's page, when this process runs one. */
  readonly pageUrl?: string;
  /** The roles running, in start order. */
  readonly roles: readonly Role[];
  /** The providers. */
  readonly services: Services;
  /** Stops the roles (gateway first), then closes the providers. */
  close(): Promise<void>;
}

/**
 * Starts `role` (every role for `all`).
 *
 * @param role Which role.
 * @param options The gateway's port (all) or the role's port, and the environment.
 * @returns The running process.
 */
export async function startChat(
  role: RoleName,
  options: { port?: number; env?: Record<string, string | undefined> } = {},
): Promise<Chat> {
  const services = await openServices(options.env);
  const roles: Role[] = [];
  let pageUrl: string | undefined;
  try {
    if (role === "all" || role === "repo") {
      roles.push(await startRepo(services, role === "repo" ? options.port : 0));
    }
    if (role === "all" || role === "task") {
      roles.push(await startTask(services, role === "task" ? options.port : 0));
    }
    if (role === "all" || role === "logic") {
      roles.push(await startLogic(services, role === "logic" ? options.port : 0));
    }
    if (role === "all" || role === "gateway") {
      const gateway = await startGateway(services, options.port ?? 0);
      roles.push(gateway);
      pageUrl = `${gateway.url}/`;
    }
  } catch (error) {
    for (const started of roles.reverse()) await started.close().catch(() => {});
    await services[Symbol.asyncDispose]();
    throw error;
  }
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      for (const started of [...roles].reverse()) await started.close().catch(() => {});
      await services[Symbol.asyncDispose]();
    })();
  return { pageUrl, roles, services, close, [Symbol.asyncDispose]: close };
}

if (import.meta.main) {
  const role = (Deno.args[0] ?? "all") as RoleName;
  if (!["all", "gateway", "logic", "repo", "task"].includes(role)) {
    console.error(`unknown role '${role}': all, gateway, logic, repo or task`);
    Deno.exit(2);
  }
  const port = Deno.env.get("PORT");
  const chat = await startChat(role, {
    port: port ? Number(port) : role === "all" ? 8080 : 0,
  });
  console.log(
    `chat (${role}, ${chat.services.mode}) up: ${
      chat.pageUrl ? `open ${chat.pageUrl}` : chat.roles.map((r) => r.url).join(" ")
    }`,
  );
  const stop = async () => {
    await chat.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
}
