/**
 * im-gateway: WebSocket connections for the chat page. A connection authenticates with a signed
 * token, is kept alive by WebSocket pings (closed when pongs stop), is rate limited per user,
 * and publishes what it sends upstream once per client message id; the gateway receives the
 * frames for its users on its own downstream topic, named after the instance id it leased from
 * coord, and keeps presence (which gateway holds which user) on that same lease. It also serves
 * the page and the page's API (history, conversations, search) by calling im-repo and im-task.
 *
 * @module
 */
import { serviceClient } from "../../rpc/mod.ts";
import {
  type DownstreamMessage,
  downstreamTopic,
  ONLINE_CHANNEL,
  parseClientFrame,
  type ServerFrame,
  SERVICE,
  UPSTREAM_TOPIC,
  type UpstreamMessage,
  validId,
} from "./protocol.ts";
import { json, type Role, serveRole } from "./server.ts";
import type { Services } from "./services.ts";

/** A running gateway: a role with its instance id. */
export interface Gateway extends Role {
  /** Its instance id (`gw-3`), the name of its downstream topic and presence member. */
  readonly id: string;
}

/** How long repeats of one client message id are published once. */
const REPEAT_WINDOW_MS = 3000;

/** The conversation every user joins at login. */
export const LOBBY = "lobby";
const PAGE = new URL("./page.html", import.meta.url);
const encoder = new TextEncoder();

async function signer(secret: string) {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const base64url = (bytes: ArrayBuffer) =>
    btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
  return {
    async sign(user: string): Promise<string> {
      return `${user}.${base64url(await crypto.subtle.sign("HMAC", key, encoder.encode(user)))}`;
    },
    /** The token's user, or undefined for a token this key did not sign. */
    async verify(token: string | null): Promise<string | undefined> {
      const dot = token?.lastIndexOf(".") ?? -1;
      if (!token || dot <= 0) return undefined;
      const user = token.slice(0, dot);
      return validId(user) && token === await this.sign(user) ? user : undefined;
    },
  };
}

/**
 * Starts a gateway.
 *
 * @param services The process's providers.
 * @param port Where to listen (0: any free port).
 * @returns The running gateway.
 */
export async function startGateway(services: Services, port = 0): Promise<Gateway> {
  const coordinator = await services.coord();
  const queue = await services.mq();
  const limiter = await services.ratelimit("im-gateway");
  const idempotency = await services.once();
  const breakers = await services.breakers("im-gateway");
  const tokens = await signer(services.secret);
  const logger = services.logger.namespace("gateway");
  const instance = await coordinator.instanceIds.allocate("im-gateway", 1024);
  const id = `gw-${instance.id}`;
  const presence = await coordinator.presence.join(id);
  await queue.admin.createTopic(services.topic(downstreamTopic(id)), 1);
  const producer = queue.producer();
  const repo = serviceClient({ registry: coordinator.registry, service: SERVICE.repo, breakers });
  const task = serviceClient({ registry: coordinator.registry, service: SERVICE.task, breakers });
  const sockets = new Map<string, Set<WebSocket>>();
  const store = await services.cache();

  const push = (socket: WebSocket, frame: ServerFrame) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  };
  const downstream = await queue.consumer(id).subscribe<DownstreamMessage>(
    [services.topic(downstreamTopic(id))],
    ({ value }) => {
      for (const user of value.users) {
        for (const socket of sockets.get(user) ?? []) push(socket, value.frame);
      }
    },
  );

  // Online status across gateways: each says who came or went on the cache's pub/sub, and every
  // gateway tells its own connections (at most once, as pub/sub is: a page also has presence).
  const online = await store.pubsub.subscribe(
    [ONLINE_CHANNEL],
    (change) => {
      const { user, online } = change as { user: string; online: boolean };
      for (const set of sockets.values()) {
        for (const socket of set) push(socket, { type: "presence", user, online });
      }
    },
  );
  const announce = (user: string, isOnline: boolean) =>
    store.pubsub.publish(ONLINE_CHANNEL, { user, online: isOnline }).catch((error) =>
      logger.warn("online status not published", { user, err: error })
    );

  const onFrame = async (user: string, socket: WebSocket, text: string) => {
    let frame;
    try {
      frame = parseClientFrame(text);
    } catch (error) {
      return push(socket, { type: "error", error: (error as Error).message });
    }
    const decision = await limiter.allow(`user:${user}`, "send");
    if (!decision.allowed) {
      return push(socket, {
        type: "error",
        clientMsgId: frame.clientMsgId,
        error: `rate limited: retry in ${decision.retryAfterMs} ms`,
      });
    }
    const upstream: UpstreamMessage = {
      senderId: user,
      clientMsgId: frame.clientMsgId,
      conversationId: frame.conversationId,
      text: frame.text,
      gateway: id,
    };
    // Repeats of one client id within a few seconds (a double click, a flaky network) are
    // published once; a later resend (the page retrying an unacknowledged message after a
    // reconnect) is published again, and logic's once and repo's unique key keep it one message.
    await idempotency.do(`gw:${user}:${frame.clientMsgId}`, REPEAT_WINDOW_MS, async () => {
      await producer.sendSync({
        topic: services.topic(UPSTREAM_TOPIC),
        key: frame.conversationId,
        value: upstream,
      });
    });
  };

  const connect = async (request: Request): Promise<Response> => {
    const user = await tokens.verify(new URL(request.url).searchParams.get("token"));
    if (!user) return json({ error: "a valid token is required" }, 401);
    // Deno pings every idleTimeout seconds and closes a connection whose pong does not come.
    const { socket, response } = Deno.upgradeWebSocket(request, { idleTimeout: 30 });
    socket.onopen = async () => {
      let mine = sockets.get(user);
      if (!mine) sockets.set(user, mine = new Set());
      mine.add(socket);
      await presence.add(user).catch((error) =>
        logger.error("presence not written", { user, err: error })
      );
      if (mine.size === 1) await announce(user, true);
    };
    socket.onmessage = (event) =>
      void onFrame(user, socket, String(event.data)).catch((error) => {
        logger.error("frame failed", { user, err: error });
        push(socket, { type: "error", error: "the message could not be sent; send it again" });
      });
    socket.onclose = () => {
      sockets.get(user)?.delete(socket);
      if (sockets.get(user)?.size === 0) {
        sockets.delete(user);
        void announce(user, false);
      }
      void presence.remove(user).catch(() => {});
    };
    return response;
  };

  /** The user of a page API call, from `Authorization: Bearer <token>`. */
  const caller = (request: Request) =>
    tokens.verify(request.headers.get("authorization")?.replace(/^Bearer /, "") ?? null);
  /** The conversation's members; empty when there is no such conversation. */
  const membersOf = async (conversation: string): Promise<string[]> => {
    const response = await repo.fetch(`/conversations/${conversation}`);
    if (response.status === 404) {
      await response.body?.cancel();
      return [];
    }
    if (!response.ok) throw new Error(`im-repo answered ${response.status}`);
    return (await response.json()).members;
  };
  const addMember = (conversation: string, user: string) =>
    repo.fetch(`/conversations/${conversation}/members/${user}`, { method: "PUT" });

  const role = await serveRole(services, {
    service: "im-gateway",
    port,
    checks: { mq: queue, coord: coordinator, once: idempotency, ratelimit: limiter, cache: store },
    stop: async () => {
      for (const set of sockets.values()) {
        for (const socket of set) socket.close(1001, "going away");
      }
      await downstream.close();
      await online.close();
      await presence.leave();
      await instance.release();
    },
    routes: {
      "GET /": async () =>
        new Response(await Deno.readTextFile(PAGE), {
          headers: { "content-type": "text/html; charset=utf-8" },
        }),
      "GET /ws": connect,
      "POST /login": async (request) => {
        const { user } = await request.json().catch(() => ({}));
        if (!validId(user)) return json({ error: "'user' must be 1-64 letters or digits" }, 400);
        const joined = await addMember(LOBBY, user);
        if (!joined.ok) return json({ error: `im-repo answered ${joined.status}` }, 502);
        await joined.body?.cancel();
        return json({ user, token: await tokens.sign(user) });
      },
      "GET /api/conversations": async (request) => {
        const user = await caller(request);
        if (!user) return json({ error: "a valid token is required" }, 401);
        return await repo.fetch(`/users/${user}/conversations`);
      },
      "PUT /api/conversations/:id/members/:member": async (request, { id, member }) => {
        const user = await caller(request);
        if (!user) return json({ error: "a valid token is required" }, 401);
        // Anyone may start a conversation; only its members may add others to it.
        const members = await membersOf(id!);
        if (members.length > 0 && !members.includes(user)) {
          return json({ error: "not a member" }, 403);
        }
        if (members.length === 0) await (await addMember(id!, user)).body?.cancel();
        return await addMember(id!, member!);
      },
      "GET /api/conversations/:id/messages": async (request, { id }) => {
        const user = await caller(request);
        if (!user) return json({ error: "a valid token is required" }, 401);
        if (!(await membersOf(id!)).includes(user)) return json({ error: "not a member" }, 403);
        return await repo.fetch(`/conversations/${id}/messages`);
      },
      "GET /api/search": async (request) => {
        const user = await caller(request);
        if (!user) return json({ error: "a valid token is required" }, 401);
        const query = new URL(request.url).searchParams;
        const mine = await repo.json<string[]>(`/users/${user}/conversations`);
        const asked = query.getAll("conversation");
        const scope = asked.length > 0 ? asked.filter((c) => mine.includes(c)) : mine;
        if (scope.length === 0) return json({ total: 0, hits: [] });
        const search = new URLSearchParams({ q: query.get("q") ?? "" });
        for (const conversation of scope) search.append("conversation", conversation);
        for (const name of ["from", "to"]) {
          const value = query.get(name);
          if (value) search.set(name, value);
        }
        return await task.fetch(`/search?${search}`);
      },
    },
  });
  logger.info("gateway up", { id, url: role.url });
  return { ...role, id, close: role.close, [Symbol.asyncDispose]: role.close };
}
