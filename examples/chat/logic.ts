/**
 * im-logic: takes what gateways publish upstream, gives each message a Snowflake id (worker id
 * leased from coord), stores it through im-repo (found in the registry, called through a
 * breaker per instance, with retries, a deadline and the trace), then fans it out to the
 * gateways holding the conversation's members (presence), acknowledges it to the sender, and
 * hands it to im-task for indexing.
 *
 * @module
 */
import { serviceClient } from "../../rpc/mod.ts";
import {
  type ChatMessage,
  type DownstreamMessage,
  downstreamTopic,
  SERVICE,
  STORED_TOPIC,
  UPSTREAM_TOPIC,
  type UpstreamMessage,
} from "./protocol.ts";
import type { Conversation } from "./repo.ts";
import { type Role, serveRole } from "./server.ts";
import type { Services } from "./services.ts";

/** How long a client message id is remembered: a resend within it is the same message. */
const DEDUPE_MS = 24 * 3600_000;

type Stored = { readonly message: ChatMessage } | { readonly refused: string };

/**
 * Starts im-logic.
 *
 * @param services The process's providers.
 * @param port Where to listen (health and metrics).
 * @returns The running role.
 */
export async function startLogic(services: Services, port = 0): Promise<Role> {
  const coordinator = await services.coord();
  const queue = await services.mq();
  const idempotency = await services.once();
  const ids = await services.ids("im-logic");
  const breakers = await services.breakers("im-logic");
  const repo = serviceClient({
    registry: coordinator.registry,
    service: SERVICE.repo,
    breakers,
    timeoutMs: 5000,
  });
  const producer = queue.producer();
  const logger = services.logger.namespace("logic");

  /** Stores the message once per (conversation, sender, client id); a rerun gets the first result. */
  const store = (up: UpstreamMessage) =>
    idempotency.execute<Stored>(
      `chat:${up.conversationId}:${up.senderId}:${up.clientMsgId}`,
      DEDUPE_MS,
      async () => {
        const message: ChatMessage = {
          id: ids.nextIdString(),
          conversationId: up.conversationId,
          senderId: up.senderId,
          clientMsgId: up.clientMsgId,
          text: up.text,
          sentAt: new Date().toISOString(),
        };
        const response = await repo.fetch("/messages", {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": message.id },
          body: JSON.stringify(message),
        });
        if (response.status === 403 || response.status === 404) {
          return { refused: (await response.json()).error as string };
        }
        if (!response.ok) throw new Error(`im-repo answered ${response.status}`);
        return { message: (await response.json()).message as ChatMessage };
      },
    );

  const send = (gateway: string, value: DownstreamMessage) =>
    producer.sendSync({
      topic: services.topic(downstreamTopic(gateway)),
      key: value.users[0],
      value,
    });

  const subscription = await queue.consumer("im-logic").subscribe<UpstreamMessage>(
    [services.topic(UPSTREAM_TOPIC)],
    async ({ value: up }) => {
      const stored = await store(up);
      if ("refused" in stored) {
        await send(up.gateway, {
          users: [up.senderId],
          frame: { type: "error", clientMsgId: up.clientMsgId, error: stored.refused },
        });
        return;
      }
      const { message } = stored;
      const conversation = await repo.json<Conversation>(
        `/conversations/${message.conversationId}`,
      );
      const located = await coordinator.presence.locateMany(conversation.members);
      const byGateway = new Map<string, string[]>();
      for (const [user, gateways] of located) {
        for (const gateway of gateways) {
          byGateway.set(gateway, [...byGateway.get(gateway) ?? [], user]);
        }
      }
      // Committed only once every gateway's copy, the ack and the index job are stored.
      await Promise.all([
        ...[...byGateway].map(([gateway, users]) =>
          send(gateway, { users, frame: { type: "message", message } })
        ),
        send(up.gateway, {
          users: [up.senderId],
          frame: { type: "ack", clientMsgId: up.clientMsgId, id: message.id },
        }),
        producer.sendSync({
          topic: services.topic(STORED_TOPIC),
          key: message.conversationId,
          value: message,
        }),
      ]);
      logger.debug("message fanned out", { id: message.id, gateways: byGateway.size });
    },
  );
  return await serveRole(services, {
    service: "im-logic",
    port,
    checks: { mq: queue, coord: coordinator, once: idempotency },
    routes: {},
    stop: () => subscription.close(),
  });
}
