import assert from "node:assert/strict";
import { eventually } from "./eventually.ts";
import { serverAvailable, startServer } from "./server.ts";
import type { ServerKind, ThrowawayServer } from "./server.ts";
import { serviceUrl } from "./services.ts";

/** Sends one request over TCP and returns what came back before `done` matched or the peer closed. */
async function exchange(
  host: string,
  port: number,
  request: string | Uint8Array,
  done: RegExp,
): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await conn.write(typeof request === "string" ? new TextEncoder().encode(request) : request);
    let reply = "";
    const buffer = new Uint8Array(4096);
    while (!done.test(reply)) {
      const read = await conn.read(buffer);
      if (read === null) break;
      reply += new TextDecoder().decode(buffer.subarray(0, read));
    }
    return reply;
  } finally {
    conn.close();
  }
}

const probes: Record<ServerKind, (host: string, port: number) => Promise<boolean>> = {
  redis: async (host, port) => /^\+PONG/.test(await exchange(host, port, "PING\r\n", /\r\n/)),
  etcd: async (host, port) =>
    /"health":\s*"true"/.test(
      await exchange(
        host,
        port,
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        /\}/,
      ),
    ),
  // An SSLRequest: a live postgres answers with one byte, 'N' (no TLS) or 'S'.
  postgres: async (host, port) =>
    /^[NS]$/.test(
      await exchange(host, port, new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]), /^[NS]/),
    ),
};

async function refused(server: ThrowawayServer): Promise<boolean> {
  try {
    await probes[server.kind](server.host, server.port);
    return false;
  } catch {
    return true;
  }
}

for (const kind of ["redis", "etcd", "postgres"] as const) {
  Deno.test({
    name:
      `[${kind}] throwaway server: killed by its own pid, it refuses connections; started again, it answers`,
    ignore: !serverAvailable(kind),
    async fn() {
      await using server = await startServer(kind);
      assert.ok(await probes[kind](server.host, server.port), await server.log());
      const pid = server.pid;
      assert.ok(pid !== undefined && pid > 0);
      await server.kill();
      assert.equal(server.running, false);
      assert.ok(await refused(server), "the port is closed after SIGKILL");
      assert.throws(() => Deno.kill(pid, "SIGCONT"), "the pid is gone");
      await server.start();
      assert.notEqual(server.pid, pid);
      assert.ok(await probes[kind](server.host, server.port));
      assert.match(server.url, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
      await server.stop();
      assert.ok(await refused(server));
    },
  });
}

for (const kind of ["redis", "etcd", "postgres"] as const) {
  const url = serviceUrl(kind);
  Deno.test({
    name: `[${kind}] the shared service named by its KIT_* variable answers`,
    ignore: url === undefined,
    async fn() {
      const first = (url ?? "").split(",")[0];
      const { hostname, port } = new URL(first);
      await eventually(async () => assert.ok(await probes[kind](hostname, Number(port))), {
        timeoutMs: 10_000,
      });
    },
  });
}
