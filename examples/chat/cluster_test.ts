/**
 * The chat in cluster mode on the real services — Redis (cache, once, ratelimit, mq on Redis
 * Streams), PostgreSQL (db and search) and etcd (coord) — as separate processes: two gateways,
 * two logic instances, one repo, one task. A bounded load of clients sends messages, each twice
 * with the same client message id; one gateway and one logic instance are SIGKILLed mid-run and
 * the clients reconnect to the surviving gateway and resend what was not acknowledged. Then:
 * every acknowledged message is stored exactly once, reached every member (live, or in the
 * history a reconnecting client reads) and is searchable; the rate limit held across the
 * gateways; the dead instances are gone from discovery and presence after their TTL.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { coord } from "../../mod.ts";
import { etcdCoord } from "../../drivers/etcd.ts";
import { eventually } from "../../testing/eventually.ts";
import { serviceUrl } from "../../testing/services.ts";
import { DEFAULT_RULES } from "./services.ts";
import type { ChatMessage, ServerFrame } from "./protocol.ts";

const redisUrl = serviceUrl("redis");
const postgresUrl = serviceUrl("postgres");
const etcdUrl = serviceUrl("etcd");
const MAIN = new URL("./main.ts", import.meta.url).pathname;
const USERS = 6;
const MESSAGES_PER_USER = 15;
const LEASE_TTL_MS = 2000;

interface Process {
  readonly role: string;
  readonly url: string;
  readonly child: Deno.ChildProcess;
}

/** Starts one role and waits for its `up` line. */
async function spawnRole(role: string, env: Record<string, string>): Promise<Process> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, role],
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  for (;;) {
    const match = /up: (?:open )?(http:\/\/127\.0\.0\.1:\d+)/.exec(text);
    if (match) {
      // Keep draining its output so the child never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return { role, url: match[1], child };
    }
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`${role} ended before it was up:\n${text}`);
    text += chunk.value;
  }
}

/** A chat user: reconnects to a live gateway, resends what was not acknowledged, reads history. */
class LoadClient {
  readonly acked = new Map<string, string>(); // client id → message id
  readonly pending = new Map<string, string>(); // client id → text, not yet acknowledged
  readonly delivered = new Set<string>(); // message ids received live or from history
  rateLimited = 0;
  reconnects = 0;
  #socket: WebSocket | undefined;
  #closing = false;
  /** Client ids with a resend already scheduled after a rate-limit refusal. */
  readonly #scheduled = new Set<string>();

  constructor(
    readonly user: string,
    readonly token: string,
    readonly conversation: string,
    private readonly gateways: () => string[],
    private readonly resendWhenLimited = true,
  ) {}

  async connect(): Promise<void> {
    for (;;) {
      for (const gateway of this.gateways()) {
        const socket = new WebSocket(`${gateway.replace(/^http/, "ws")}/ws?token=${this.token}`);
        const opened = await new Promise<boolean>((resolve) => {
          socket.onopen = () => resolve(true);
          socket.onerror = () => resolve(false);
        });
        if (!opened) continue;
        this.#socket = socket;
        socket.onmessage = (event) => this.#onFrame(JSON.parse(event.data));
        socket.onclose = () => {
          if (this.#closing) return;
          this.reconnects++;
          void this.connect();
        };
        await this.#catchUp(gateway);
        for (const [id, text] of this.pending) this.#send(id, text);
        return;
      }
      if (this.#closing) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** What arrived while this client was away: the conversation's history. */
  async #catchUp(gateway: string): Promise<void> {
    const response = await fetch(`${gateway}/api/conversations/${this.conversation}/messages`, {
      headers: { authorization: `Bearer ${this.token}` },
    }).catch(() => undefined);
    if (!response?.ok) return void await response?.body?.cancel();
    for (const message of await response.json() as ChatMessage[]) this.delivered.add(message.id);
  }

  #onFrame(frame: ServerFrame): void {
    if (frame.type === "message") this.delivered.add(frame.message.id);
    else if (frame.type === "ack") {
      this.acked.set(frame.clientMsgId, frame.id);
      this.pending.delete(frame.clientMsgId);
    } else if (
      frame.type === "error" && frame.clientMsgId &&
      /rate limited: retry in (\d+) ms/.test(frame.error)
    ) {
      this.rateLimited++;
      const id = frame.clientMsgId;
      if (!this.resendWhenLimited || this.#scheduled.has(id)) return;
      this.#scheduled.add(id);
      const wait = Number(/retry in (\d+) ms/.exec(frame.error)![1]);
      setTimeout(() => {
        this.#scheduled.delete(id);
        if (this.pending.has(id)) this.#send(id, this.pending.get(id)!);
      }, wait + 20);
    }
  }

  #send(clientMsgId: string, text: string): void {
    if (this.#socket?.readyState !== WebSocket.OPEN) return; // resent after the reconnect
    this.#socket.send(
      JSON.stringify({ type: "send", clientMsgId, conversationId: this.conversation, text }),
    );
  }

  /** Sends a message, by default twice with one client id (a double send the system must fold). */
  send(clientMsgId: string, text: string, copies = 2): void {
    this.pending.set(clientMsgId, text);
    for (let i = 0; i < copies; i++) this.#send(clientMsgId, text);
  }

  /** Reads the conversation's history again from a live gateway. */
  refresh(): Promise<void> {
    return this.#catchUp(this.gateways()[0]);
  }

  /** Resends what is still unacknowledged (a page's retry timer). */
  retry(): void {
    for (const [id, text] of this.pending) this.#send(id, text);
  }

  close(): void {
    this.#closing = true;
    this.#socket?.close();
  }
}

const natsUrl = serviceUrl("nats");

for (const broker of ["redis", "nats"] as const) {
  Deno.test({
    name: `[redis] [postgres] [etcd]${broker === "nats" ? " [nats]" : ""} chat cluster, mq on ${
      broker === "nats" ? "NATS JetStream" : "Redis Streams"
    }: two gateways, two logic; one of each SIGKILLed mid-run — nothing acknowledged lost or doubled, delivered, searchable, rate held, dead instances gone`,
    ignore: !redisUrl || !postgresUrl || !etcdUrl || (broker === "nats" && !natsUrl),
    async fn() {
      const run = crypto.randomUUID().slice(0, 8);
      // A database and a Redis db of its own, and a coord prefix: nothing of another run is seen.
      const admin = postgres(postgresUrl!, { max: 1, onnotice: () => {} });
      const database = `chat_${run}`;
      await admin.unsafe(`create database ${database}`);
      const redis = new URL(redisUrl!);
      redis.pathname = "/9";
      const flush = new Deno.Command("redis-cli", {
        args: ["-u", redis.href, "flushdb"],
        stdout: "null",
      });
      await flush.output();
      const databaseUrl = new URL(postgresUrl!);
      databaseUrl.pathname = `/${database}`;
      const env = {
        REDIS_URL: redis.href,
        DATABASE_URL: databaseUrl.href,
        ETCD_ENDPOINTS: etcdUrl!,
        CHAT_SECRET: `secret-${run}`,
        CHAT_COORD_PREFIX: `/chat-test-${run}`,
        CHAT_LEASE_TTL_MS: String(LEASE_TTL_MS),
        OTEL_SERVICE_NAME: `chat-${run}`,
        CHAT_TOPIC_PREFIX: `t${run}.`,
        KIT_ENV: "production",
        ...(broker === "nats" ? { NATS_URL: natsUrl! } : {}),
      };
      const processes: Process[] = [];
      const clients: LoadClient[] = [];
      await using observer = await coord.create(
        { ...coord.defaultConfig("production"), keyPrefix: env.CHAT_COORD_PREFIX },
        { driver: etcdCoord({ endpoints: etcdUrl! }) },
      );
      try {
        processes.push(await spawnRole("repo", env), await spawnRole("task", env));
        processes.push(await spawnRole("logic", env), await spawnRole("logic", env));
        const [gatewayA, gatewayB] = [
          await spawnRole("gateway", env),
          await spawnRole("gateway", env),
        ];
        processes.push(gatewayA, gatewayB);
        const alive = new Set([gatewayA.url, gatewayB.url]);

        const conversation = `load-${run}`;
        const login = async (user: string) => {
          const response = await fetch(`${gatewayB.url}/login`, {
            method: "POST",
            body: JSON.stringify({ user }),
          });
          return (await response.json()).token as string;
        };
        for (let i = 0; i < USERS; i++) {
          const user = `u${i}-${run}`;
          const token = await login(user);
          const add = await fetch(
            `${gatewayB.url}/api/conversations/${conversation}/members/${user}`,
            {
              method: "PUT",
              headers: { authorization: `Bearer ${i === 0 ? token : clients[0].token}` },
            },
          );
          assert.equal(add.status, 200, await add.text());
          // Half the users start on gateway A, half on B.
          const preferred = i % 2 === 0 ? gatewayA.url : gatewayB.url;
          const client = new LoadClient(
            user,
            token,
            conversation,
            () =>
              [preferred, ...alive].filter((url, j, all) =>
                alive.has(url) && all.indexOf(url) === j
              ),
          );
          await client.connect();
          clients.push(client);
        }

        // The rate limit across gateways: one user on both gateways sends 15 messages on each at
        // once; the two gateways share one bucket (rate 5/s, burst 10), so about 10 get through.
        const burstUser = `burst-${run}`;
        const burstToken = await login(burstUser);
        const burstConversation = `burst-${run}`;
        await (await fetch(
          `${gatewayB.url}/api/conversations/${burstConversation}/members/${burstUser}`,
          {
            method: "PUT",
            headers: { authorization: `Bearer ${burstToken}` },
          },
        )).body?.cancel();
        const onA = new LoadClient(
          burstUser,
          burstToken,
          burstConversation,
          () => [gatewayA.url],
          false,
        );
        const onB = new LoadClient(
          burstUser,
          burstToken,
          burstConversation,
          () => [gatewayB.url],
          false,
        );
        await onA.connect();
        await onB.connect();
        const burstStarted = Date.now();
        for (let i = 0; i < 15; i++) {
          onA.send(`a${i}`, `burst a${i}`, 1);
          onB.send(`b${i}`, `burst b${i}`, 1);
        }
        // Each message is either acknowledged or refused.
        await eventually(() =>
          assert.equal(onA.acked.size + onB.acked.size + onA.rateLimited + onB.rateLimited, 30)
        );
        const burstMs = Date.now() - burstStarted;
        const burstAccepted = onA.acked.size + onB.acked.size;
        onA.close();
        onB.close();

        // Each user sends at 10/s, twice the rule's rate, so the limit bites; gateway A and the
        // first logic are killed a second in.
        const sending = clients.map(async (client, c) => {
          for (let i = 0; i < MESSAGES_PER_USER; i++) {
            client.send(`${client.user}-m${i}`, `load 消息 ${c}-${i} from ${client.user}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        });
        await new Promise((resolve) => setTimeout(resolve, 1000));
        for (const victim of [gatewayA, processes[2]]) {
          victim.child.kill("SIGKILL");
          await victim.child.status;
        }
        alive.delete(gatewayA.url);
        const killedAt = Date.now();
        await Promise.all(sending);
        // Clients retry what is unacknowledged until everything is acknowledged (60 s at most).
        await eventually(() => {
          for (const client of clients) client.retry();
          const waiting = clients.reduce((sum, client) => sum + client.pending.size, 0);
          assert.equal(waiting, 0, `${waiting} messages not acknowledged yet`);
        }, { timeoutMs: 60_000, intervalMs: 1000 });

        const sql = postgres(databaseUrl.href, { max: 1, onnotice: () => {} });
        const tables = [0, 1, 2, 3].map((shard) => `chat_messages_${shard}`);
        const stored: { id: string; sender_id: string; client_msg_id: string; sent_at: Date }[] =
          (await Promise.all(
            tables.map((table) =>
              sql.unsafe(
                `select id::text, sender_id, client_msg_id, sent_at from ${table} where conversation_id = $1`,
                [conversation],
              )
            ),
          )).flat() as never;
        await sql.end();
        const acknowledged = clients.flatMap((client) => [...client.acked.entries()]);
        const storedIds = new Set(stored.map((row) => row.id));
        const perClientId = new Map<string, number>();
        for (const row of stored) {
          const key = `${row.sender_id}/${row.client_msg_id}`;
          perClientId.set(key, (perClientId.get(key) ?? 0) + 1);
        }
        const duplicates = [...perClientId.values()].filter((count) => count > 1).length;
        const lost = acknowledged.filter(([, id]) => !storedIds.has(id)).length;
        // Every member has every stored message: live, or from the history read on reconnect.
        await eventually(async () => {
          for (const client of clients) {
            const missing = [...storedIds].filter((id) => !client.delivered.has(id));
            if (missing.length > 0) await client.refresh(); // read the history again
            assert.deepEqual(missing, [], `${client.user} misses ${missing.length}`);
          }
        }, { timeoutMs: 20_000, intervalMs: 1000 });
        const search = await eventually(async () => {
          const response = await fetch(
            `${gatewayB.url}/api/search?q=load&conversation=${conversation}`,
            { headers: { authorization: `Bearer ${clients[0].token}` } },
          );
          const body = await response.json();
          assert.equal(
            body.total,
            storedIds.size,
            `searchable: ${body.total} of ${storedIds.size}`,
          );
          return body.total as number;
        }, { timeoutMs: 20_000, intervalMs: 500 });
        const { rate, burst } = DEFAULT_RULES.send;
        const rateLimited = clients.reduce((sum, client) => sum + client.rateLimited, 0);
        const reconnects = clients.reduce((sum, client) => sum + client.reconnects, 0);

        // The dead instances leave discovery and presence after their TTL.
        await eventually(async () => {
          assert.equal((await observer.registry.discover("im-gateway")).length, 1);
          assert.equal((await observer.registry.discover("im-logic")).length, 1);
          const located = await observer.presence.locateMany(clients.map((client) => client.user));
          const gateways = new Set([...located.values()].flat());
          assert.equal(gateways.size, 1, `presence on ${[...gateways]}`);
        }, { timeoutMs: LEASE_TTL_MS * 3 + 5000 });
        const goneAfterMs = Date.now() - killedAt;

        const sent = USERS * MESSAGES_PER_USER;
        console.log(
          `chat cluster (${broker}): sent ${sent} (each twice), acknowledged ${acknowledged.length}, stored ${storedIds.size}, ` +
            `delivered to all ${USERS} members: ${storedIds.size}, searchable ${search}, duplicates ${duplicates}, ` +
            `lost ${lost}; rate-limited sends ${rateLimited}, reconnects ${reconnects}, ` +
            `one user on both gateways: ${burstAccepted} of 30 accepted in ${burstMs} ms (burst ${burst}, rate ${rate}/s); ` +
            `dead instances gone ${goneAfterMs} ms after the kill`,
        );
        assert.equal(acknowledged.length, sent, "every message acknowledged in the end");
        assert.equal(storedIds.size, sent, "stored once each");
        assert.equal(duplicates, 0);
        assert.equal(lost, 0);
        assert.ok(rateLimited > 0, "the limit was reached");
        assert.ok(reconnects >= USERS / 2, "the clients of the killed gateway reconnected");
        // The survivors stop gracefully on SIGTERM: exit code 0.
        for (const client of clients) client.close();
        const survivors = processes.filter((process) =>
          process !== gatewayA && process !== processes[2]
        );
        for (const process of survivors) process.child.kill("SIGTERM");
        const codes = await Promise.all(survivors.map((process) => process.child.status));
        assert.deepEqual(codes.map((status) => status.code), survivors.map(() => 0));
        // One bucket for both gateways: a per-instance limit would have let about 20 through.
        assert.ok(burstAccepted >= burst, `${burstAccepted} accepted`);
        assert.ok(
          burstAccepted <= burst + Math.ceil(rate * burstMs / 1000),
          `${burstAccepted} accepted in ${burstMs} ms`,
        );
      } finally {
        for (const client of clients) client.close();
        for (const process of processes) {
          try {
            process.child.kill("SIGTERM");
          } catch {
            // killed already
          }
          await process.child.status;
        }
        await admin.unsafe(`drop database if exists ${database} with (force)`).catch(() => {});
        await admin.end();
      }
    },
  });
}
