/**
 * im-repo: conversations and messages in db, the message table sharded by conversation; reads of
 * a conversation's members cached through getOrLoad. A message is stored once per
 * (conversation, sender, client message id), whatever number of times it is sent.
 *
 * @module
 */
import type { db } from "../../mod.ts";
import { type ChatMessage, SERVICE, validId } from "./protocol.ts";
import { json, type Role, serveRole } from "./server.ts";
import type { Services } from "./services.ts";

/** A conversation and its members. */
export interface Conversation {
  readonly id: string;
  readonly members: readonly string[];
}

const SHARDS = 4;

/** The migrations: conversations, members, and one message table per shard. */
function migrations(messages: db.ShardedTable): db.Migration[] {
  return [
    {
      id: "chat_001_conversations",
      sql: `create table if not exists chat_conversation_members (
        conversation_id text not null, user_id text not null,
        primary key (conversation_id, user_id))`,
    },
    {
      id: "chat_002_messages",
      sql: messages.tables.map((table) =>
        `create table if not exists ${table} (
          id int8 primary key, conversation_id text not null, sender_id text not null,
          client_msg_id text not null, text text not null, sent_at timestamptz not null,
          unique (conversation_id, sender_id, client_msg_id))`
      ).join(";\n"),
    },
  ];
}

interface MessageRow {
  id: bigint;
  conversation_id: string;
  sender_id: string;
  client_msg_id: string;
  text: string;
  sent_at: Date;
}

const toMessage = (row: MessageRow): ChatMessage => ({
  id: String(row.id),
  conversationId: row.conversation_id,
  senderId: row.sender_id,
  clientMsgId: row.client_msg_id,
  text: row.text,
  sentAt: row.sent_at.toISOString(),
});

/**
 * Starts im-repo.
 *
 * @param services The process's providers.
 * @param port Where to listen (0: any free port).
 * @returns The running role.
 */
export async function startRepo(services: Services, port = 0): Promise<Role> {
  const database = await services.db();
  const store = await services.cache();
  const messages = database.sharded("chat_messages", {
    shardKey: "conversation_id",
    shards: SHARDS,
  });
  await database.migrate(migrations(messages));
  // Lookups of conversations that do not exist stop at the Bloom filter, not the database.
  const known = store.bloom("conversations", { capacity: 1_000_000, errorRate: 0.001 });
  const existing = await database.reader().sql<{ conversation_id: string }>`
    select distinct conversation_id from chat_conversation_members`;
  await known.addMany(existing.map((row) => row.conversation_id));

  const members = (conversation: string) =>
    store.getOrLoad<string[]>(`conversation:${conversation}:members`, async () => {
      const rows = await database.reader().sql<{ user_id: string }>`
        select user_id from chat_conversation_members
        where conversation_id = ${conversation} order by user_id`;
      return rows.map((row) => row.user_id);
    }, { ttlMs: 60_000 });

  return await serveRole(services, {
    service: SERVICE.repo,
    port,
    checks: { db: database, cache: store },
    routes: {
      "GET /conversations/:id": async (_request, { id }) => {
        if (!await known.has(id!)) return json({ error: `no conversation '${id}'` }, 404);
        const list = await members(id!);
        return list.length === 0
          ? json({ error: `no conversation '${id}'` }, 404)
          : json({ id: id!, members: list } satisfies Conversation);
      },
      "PUT /conversations/:id/members/:user": async (_request, { id, user }) => {
        if (!validId(id) || !validId(user)) return json({ error: "bad id" }, 400);
        await database.sql`
          insert into chat_conversation_members values (${id}, ${user}) on conflict do nothing`;
        await known.add(id);
        await store.string.del(`conversation:${id}:members`);
        return json({ id, members: await members(id) });
      },
      "GET /users/:user/conversations": async (_request, { user }) => {
        const rows = await database.reader().sql<{ conversation_id: string }>`
          select conversation_id from chat_conversation_members
          where user_id = ${user} order by conversation_id`;
        return json(rows.map((row) => row.conversation_id));
      },
      "GET /conversations/:id/messages": async (request, { id }) => {
        const limit = Math.min(Number(new URL(request.url).searchParams.get("limit") ?? 50), 200);
        const rows = await database.reader().sql<MessageRow>`
          select * from ${messages.for(id)} where conversation_id = ${id}
          order by id desc limit ${limit}`;
        return json(rows.reverse().map(toMessage));
      },
      "POST /messages": async (request) => {
        const message = await request.json() as ChatMessage;
        const list = await members(message.conversationId);
        if (!list.includes(message.senderId)) {
          return json(
            { error: `'${message.senderId}' is not in '${message.conversationId}'` },
            403,
          );
        }
        const table = messages.for(message.conversationId);
        // The same (conversation, sender, client id) again: the first one stands.
        const inserted = await database.sql<MessageRow>`
          insert into ${table} (id, conversation_id, sender_id, client_msg_id, text, sent_at)
          values (${BigInt(message.id)}, ${message.conversationId}, ${message.senderId},
                  ${message.clientMsgId}, ${message.text}, ${message.sentAt})
          on conflict (conversation_id, sender_id, client_msg_id) do nothing
          returning *`;
        if (inserted.length > 0) {
          return json({ message: toMessage(inserted[0]), created: true }, 201);
        }
        const [existing] = await database.reader().sql<MessageRow>`
          select * from ${table} where conversation_id = ${message.conversationId}
          and sender_id = ${message.senderId} and client_msg_id = ${message.clientMsgId}`;
        return json({ message: toMessage(existing), created: false });
      },
    },
  });
}
