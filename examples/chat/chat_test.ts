/**
 * The chat in standalone mode, end to end over HTTP and WebSocket: two users in a group chat
 * exchange a Chinese and an English message live, a resent client message id is stored once,
 * both find the messages through search, the send rate is limited, and presence follows the
 * connections.
 */
import assert from "node:assert/strict";
import { eventually } from "../../testing/eventually.ts";
import { startChat } from "./main.ts";
import type { ServerFrame } from "./protocol.ts";

interface Client extends AsyncDisposable {
  readonly frames: ServerFrame[];
  send(frame: unknown): void;
}

async function login(base: string, user: string): Promise<string> {
  const response = await fetch(`${base}/login`, { method: "POST", body: JSON.stringify({ user }) });
  assert.equal(response.status, 200);
  return (await response.json()).token;
}

async function connect(base: string, token: string): Promise<Client> {
  const socket = new WebSocket(`${base.replace(/^http/, "ws")}/ws?token=${token}`);
  const frames: ServerFrame[] = [];
  socket.onmessage = (event) => frames.push(JSON.parse(event.data));
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error("the WebSocket did not open"));
  });
  return {
    frames,
    send: (frame) => socket.send(JSON.stringify(frame)),
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => (socket.onclose = resolve));
      socket.close();
      await closed;
    },
  };
}

const api = (base: string, token: string, path: string, init: RequestInit = {}) =>
  fetch(`${base}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } })
    .then((response) => response.json());

Deno.test("chat, standalone: a group chat in Chinese and English, live and searchable; a resent message is stored once", async () => {
  await using chat = await startChat("all", { port: 0, env: {} });
  const base = chat.pageUrl!.replace(/\/$/, "");
  const page = await fetch(chat.pageUrl!);
  assert.match(await page.text(), /<title>GoChat on @gochat\/kit<\/title>/);

  const [ann, bob] = [await login(base, "ann"), await login(base, "bob")];
  assert.deepEqual(await api(base, ann, "/api/conversations/trip/members/bob", { method: "PUT" }), {
    id: "trip",
    members: ["ann", "bob"],
  });
  assert.deepEqual(await api(base, bob, "/api/conversations"), ["lobby", "trip"]);
  await using annSocket = await connect(base, ann);
  await using bobSocket = await connect(base, bob);
  // Online status crosses the cache's pub/sub: ann hears that bob came online.
  await eventually(() =>
    assert.ok(
      annSocket.frames.some((frame) =>
        frame.type === "presence" && frame.user === "bob" && frame.online
      ),
    )
  );

  annSocket.send({
    type: "send",
    clientMsgId: "a-1",
    conversationId: "trip",
    text: "明天一起吃饭吧",
  });
  bobSocket.send({
    type: "send",
    clientMsgId: "b-1",
    conversationId: "trip",
    text: "Lunch tomorrow?",
  });
  const texts = (client: Client) =>
    client.frames.flatMap((frame) => frame.type === "message" ? [frame.message.text] : []).sort();
  await eventually(() => {
    assert.deepEqual(texts(annSocket), ["Lunch tomorrow?", "明天一起吃饭吧"]);
    assert.deepEqual(texts(bobSocket), ["Lunch tomorrow?", "明天一起吃饭吧"]);
  });
  const ack = annSocket.frames.find((frame) => frame.type === "ack");
  assert.ok(ack?.type === "ack" && ack.clientMsgId === "a-1" && /^\d+$/.test(ack.id));

  // The same client message id again (a retry after a reconnect): stored and delivered once.
  annSocket.send({
    type: "send",
    clientMsgId: "a-1",
    conversationId: "trip",
    text: "明天一起吃饭吧",
  });
  annSocket.send({ type: "send", clientMsgId: "a-2", conversationId: "trip", text: "好的" });
  await eventually(() => assert.equal(texts(bobSocket).length, 3));
  const history = await api(base, bob, "/api/conversations/trip/messages");
  assert.deepEqual(
    history.map((m: { text: string }) => m.text).sort(),
    ["Lunch tomorrow?", "好的", "明天一起吃饭吧"].sort(),
  );
  assert.equal(history.length, 3);
  assert.equal(new Set(history.map((m: { id: string }) => m.id)).size, 3);

  await eventually(async () => {
    const chinese = await api(base, bob, "/api/search?q=吃饭");
    assert.deepEqual(chinese.hits.map((hit: { text: string }) => hit.text), ["明天一起吃饭吧"]);
    const english = await api(base, ann, "/api/search?q=lunch");
    assert.deepEqual(english.hits.map((hit: { text: string }) => hit.text), ["Lunch tomorrow?"]);
  });
  assert.equal(
    (await api(base, bob, "/api/search?q=lunch&from=2999-01-01T00:00:00Z")).total,
    0,
    "filtered by time",
  );
  const outsider = await login(base, "eve");
  assert.equal((await api(base, outsider, "/api/search?q=lunch&conversation=trip")).total, 0);
  assert.equal(
    (await api(base, outsider, "/api/conversations/trip/messages")).error,
    "not a member",
  );

  const coordinator = await chat.services.coord();
  assert.deepEqual(await coordinator.presence.locate("bob"), [
    chat.roles.find((role) => "id" in role)!.id as string,
  ]);
});

Deno.test("chat, standalone: every role serves /metrics and /readyz", async () => {
  await using chat = await startChat("all", { port: 0, env: {} });
  for (const role of chat.roles) {
    const ready = await fetch(`${role.url}/readyz`);
    assert.equal(ready.status, 200, `${role.url}: ${await ready.text()}`);
    const scrape = await (await fetch(`${role.url}/metrics`)).text();
    assert.match(scrape, /process_resident_memory_bytes/);
    assert.match(scrape, /http_requests_total\{/);
  }
});

Deno.test("chat, standalone: the send rule hot-reloads from the config center", async () => {
  await using chat = await startChat("all", { port: 0, env: {} });
  const base = chat.pageUrl!.replace(/\/$/, "");
  const coordinator = await chat.services.coord();
  await coordinator.config.set("/config/dev/im-gateway/ratelimit", {
    send: { rate: 0.5, burst: 1 },
  });
  const token = await login(base, "dan");
  await using socket = await connect(base, token);
  await eventually(async () => {
    socket.frames.length = 0;
    for (let i = 0; i < 3; i++) {
      socket.send({
        type: "send",
        clientMsgId: crypto.randomUUID().slice(0, 8),
        conversationId: "lobby",
        text: "hi",
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    const refused = socket.frames.filter((frame) =>
      frame.type === "error" && /rate limited/.test(frame.error)
    );
    assert.ok(refused.length >= 2, `${refused.length} of 3 refused under burst 1`);
  }, { timeoutMs: 10_000 });
});

Deno.test("chat, standalone: sends beyond the rate limit are refused with the wait; bad frames and tokens are refused", async () => {
  await using chat = await startChat("all", { port: 0, env: {} });
  const base = chat.pageUrl!.replace(/\/$/, "");
  const token = await login(base, "cid");
  assert.equal((await fetch(`${base}/ws?token=cid.forged`)).status, 401);
  await using socket = await connect(base, token);
  for (let i = 0; i < 20; i++) {
    socket.send({ type: "send", clientMsgId: `c-${i}`, conversationId: "lobby", text: `#${i}` });
  }
  socket.send({ type: "send", clientMsgId: "bad id!", conversationId: "lobby", text: "x" });
  await eventually(() => {
    const errors = socket.frames.filter((frame) => frame.type === "error");
    assert.ok(errors.some((frame) => /rate limited: retry in \d+ ms/.test(frame.error)));
    assert.ok(errors.some((frame) => /'clientMsgId' must be/.test(frame.error)));
  });
  const acks = () => socket.frames.filter((frame) => frame.type === "ack").length;
  await eventually(() => assert.ok(acks() >= 10 && acks() < 20, `${acks()} acknowledged`));
});
