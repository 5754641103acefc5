import assert from "node:assert/strict";
import * as db from "../../db/mod.ts";
import { freePort } from "../../testing/server.ts";
import { quietLogger } from "../../testing/logger.ts";
import { serviceUrl } from "../../testing/services.ts";
import { postgresDb } from "./mod.ts";

const url = serviceUrl("postgres");

/** The second database PGDATABASE names; created once, kept between runs. */
const DATABASE = "kit_pgenv";

/**
 * A child process that opens db from `db.defaultConfig` alone, so every connection setting comes
 * from the `PG*` variables, and prints where it landed as JSON (or fails with the driver's error).
 */
const CHILD = `
import * as db from ${JSON.stringify(import.meta.resolve("../../db/mod.ts"))};
import { postgresDb } from ${JSON.stringify(import.meta.resolve("./mod.ts"))};
import { quietLogger } from ${JSON.stringify(import.meta.resolve("../../testing/logger.ts"))};

await using database = await db.create(db.defaultConfig("development"), {
  driver: postgresDb(Deno.env.get("KIT_PGENV_TLS") ? { tls: true } : {}),
  logger: quietLogger(),
});
const [row] = await database.sql\`select current_database() as database, inet_server_port() as port\`;
console.log(JSON.stringify(row));
`;

/** Runs {@linkcode CHILD} with only `variables` (and what deno itself needs) in its environment. */
async function runChild(
  variables: Record<string, string>,
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kit-pgenv-" });
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, CHILD);
    const inherited = ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]
      .flatMap((name) => {
        const value = Deno.env.get(name);
        return value === undefined ? [] : [[name, value] as const];
      });
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
        script,
      ],
      cwd: new URL("..", import.meta.url).pathname,
      clearEnv: true,
      env: { ...Object.fromEntries(inherited), NO_COLOR: "1", ...variables },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      success: output.success,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Creates {@linkcode DATABASE} unless it exists (another run may create it at the same time). */
async function ensureDatabase(): Promise<void> {
  await using admin = await db.create({ ...db.defaultConfig("development"), url }, {
    driver: postgresDb(),
    logger: quietLogger(),
  });
  const rows = await admin.sql`select 1 from pg_database where datname = ${DATABASE}`;
  if (rows.length > 0) return;
  await admin.sql`create database ${db.identifier(DATABASE)}`.catch((error) => {
    // 42P04 duplicate_database, 23505 when two creations race on the catalog.
    const code = (error as { cause?: { code?: unknown } }).cause?.code;
    if (code !== "42P04" && code !== "23505") throw error;
  });
}

/**
 * A TCP relay on `hostname` (a loopback address the server does not listen on) to the server of
 * `url`: a connection that arrives through it can only have followed PGHOST and PGPORT.
 */
function relay(hostname: string): AsyncDisposable & { port: number; accepted: () => number } {
  const target = new URL(url!);
  const listener = Deno.listen({ hostname, port: 0 });
  const pipes: Promise<unknown>[] = [];
  let accepted = 0;
  const serving = (async () => {
    for await (const inbound of listener) {
      accepted++;
      const outbound = await Deno.connect({
        hostname: target.hostname,
        port: Number(target.port || 5432),
      });
      pipes.push(
        Promise.allSettled([
          inbound.readable.pipeTo(outbound.writable),
          outbound.readable.pipeTo(inbound.writable),
        ]),
      );
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    accepted: () => accepted,
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
      await Promise.all(pipes);
    },
  };
}

Deno.test({
  name:
    "[postgres] db without a host, port or database connects where PGHOST, PGPORT and PGDATABASE say",
  ignore: url === undefined,
  async fn() {
    await ensureDatabase();
    // 127.0.0.2: the server listens elsewhere, so only a client that follows PGHOST gets through.
    await using through = relay("127.0.0.2");
    const child = await runChild({
      PGHOST: "127.0.0.2",
      PGPORT: String(through.port),
      PGDATABASE: DATABASE,
      PGUSER: new URL(url!).username || "postgres",
    });
    assert.ok(child.success, `the child failed:\n${child.stderr}`);
    const row = JSON.parse(child.stdout.trim().split("\n").at(-1)!);
    assert.equal(row.database, DATABASE);
    assert.equal(row.port, Number(new URL(url!).port || 5432));
    assert.ok(through.accepted() > 0, "no connection came through PGHOST:PGPORT");
  },
});

Deno.test({
  name: "[postgres] a closed PGPORT fails the connection, and the error names that port",
  ignore: url === undefined,
  async fn() {
    const closed = await freePort();
    const child = await runChild({
      PGHOST: "127.0.0.1",
      PGPORT: String(closed),
      PGDATABASE: DATABASE,
      PGUSER: new URL(url!).username || "postgres",
    });
    assert.equal(child.success, false, `the child connected:\n${child.stdout}`);
    assert.match(child.stderr, new RegExp(`connection refused at 127\\.0\\.0\\.1:${closed}\\b`));
    assert.doesNotMatch(child.stderr, /:5432\b/);
  },
});

Deno.test("verified TLS to several hosts in PGHOST needs tls.servername, as to several in a URL", async () => {
  const child = await runChild({ PGHOST: "db-1.internal,db-2.internal", KIT_PGENV_TLS: "1" });
  assert.equal(child.success, false, `the child connected:\n${child.stdout}`);
  assert.match(
    child.stderr,
    /TypeError: Cannot create postgres driver as 'tls.servername' must be given for several hosts.*"db-1.internal,db-2.internal"/,
  );
});
