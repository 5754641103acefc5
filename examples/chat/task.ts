/**
 * im-task: indexes every stored message into es and serves `GET /search?q=` with filters by
 * conversation and time (CJK text is searched by bigrams, as Elasticsearch's `cjk` analyzer does).
 *
 * @module
 */
import type { ChatMessage } from "./protocol.ts";
import { SERVICE, STORED_TOPIC } from "./protocol.ts";
import { json, type Role, serveRole } from "./server.ts";
import type { Services } from "./services.ts";

interface MessageDoc extends Record<string, unknown> {
  text: string;
  conversationId: string;
  senderId: string;
  sentAt: string;
}

/**
 * Starts im-task.
 *
 * @param services The process's providers.
 * @param port Where to listen (0: any free port).
 * @returns The running role.
 */
export async function startTask(services: Services, port = 0): Promise<Role> {
  const queue = await services.mq();
  const search = await services.search();
  const messages = await search.index<MessageDoc>("messages", {
    text: "text",
    conversationId: "keyword",
    senderId: "keyword",
    sentAt: "date",
  });
  const subscription = await queue.consumer("im-task").subscribe<ChatMessage>(
    [services.topic(STORED_TOPIC)],
    async ({ value: message }) => {
      await messages.put(message.id, {
        text: message.text,
        conversationId: message.conversationId,
        senderId: message.senderId,
        sentAt: message.sentAt,
      }, { refresh: true });
    },
  );
  return await serveRole(services, {
    service: SERVICE.task,
    port,
    checks: { search, mq: queue },
    stop: () => subscription.close(),
    routes: {
      "GET /search": async (request) => {
        const query = new URL(request.url).searchParams;
        const text = query.get("q")?.trim();
        if (!text) return json({ error: "'q' is required" }, 400);
        const conversations = query.getAll("conversation");
        const from = query.get("from") ?? undefined;
        const to = query.get("to") ?? undefined;
        const result = await messages.search({
          text,
          filter: conversations.length > 0 ? { conversationId: conversations } : undefined,
          range: from || to ? { sentAt: { gte: from, lte: to } } : undefined,
          size: Math.min(Number(query.get("size") ?? 20), 100),
        });
        return json({
          total: result.total,
          hits: result.hits.map((hit) => ({ id: hit.id, score: hit.score, ...hit.doc })),
        });
      },
    },
  });
}
