import assert from "node:assert/strict";
import { type KitEnv, read, VARIABLES } from "./mod.ts";

/** Asserts that `variables` are refused with a TypeError naming `name` (and returns its message). */
function refused(variables: Record<string, string>, name: string, also?: RegExp): string {
  let message = "";
  assert.throws(() => read(variables), (error: unknown) => {
    assert.ok(error instanceof TypeError, `a TypeError, not ${error}`);
    message = error.message;
    assert.match(message, new RegExp(`^Cannot read the environment as '${name}' `));
    if (also) assert.match(message, also);
    return true;
  });
  return message;
}

const NOTHING: KitEnv = { environment: "development", otel: { enabled: false } };

Deno.test("read() of an empty environment is standalone development", () => {
  assert.deepEqual(read({}), NOTHING);
  assert.deepEqual(read(() => undefined), NOTHING);
});

Deno.test("read() treats every variable set to the empty string as unset", () => {
  const empty = Object.fromEntries(VARIABLES.map((name) => [name, ""]));
  assert.deepEqual(read(empty), NOTHING);
});

Deno.test("read() asks exactly for VARIABLES, which --allow-env= gets", () => {
  const asked = new Set<string>();
  read((name) => {
    asked.add(name);
    return undefined;
  });
  read((name) => {
    asked.add(name);
    return { DATABASE_URL: "postgres://db/app", ETCD_ENDPOINTS: "http://e:2379" }[name];
  });
  assert.deepEqual([...asked].sort(), [...VARIABLES].sort());
  assert.ok(Object.isFrozen(VARIABLES));
});

Deno.test("read() takes a record or a function as source", () => {
  const variables: Record<string, string> = { KIT_ENV: "production", REDIS_URL: "redis://r:6379" };
  assert.deepEqual(read(variables), read((name) => variables[name]));
  // Only own keys of a record count.
  assert.deepEqual(read(Object.create({ KIT_ENV: "production" })), NOTHING);
});

Deno.test("environment: KIT_ENV wins, else production when DENO_ENV or NODE_ENV says so", () => {
  assert.equal(read({ KIT_ENV: "production" }).environment, "production");
  assert.equal(
    read({ KIT_ENV: "development", NODE_ENV: "production", DENO_ENV: "production" }).environment,
    "development",
  );
  assert.equal(read({ KIT_ENV: "production", NODE_ENV: "development" }).environment, "production");
  assert.equal(read({ NODE_ENV: "production" }).environment, "production");
  assert.equal(read({ DENO_ENV: "production" }).environment, "production");
  assert.equal(read({ DENO_ENV: "development", NODE_ENV: "production" }).environment, "production");
  assert.equal(read({ NODE_ENV: "staging" }).environment, "development");
  assert.equal(read({ NODE_ENV: "Production" }).environment, "development");
  assert.equal(read({ KIT_ENV: "", NODE_ENV: "production" }).environment, "production");
});

Deno.test("environment: any other KIT_ENV is refused with its value", () => {
  refused({ KIT_ENV: "staging" }, "KIT_ENV", /"development" or "production".*"staging"/);
  refused({ KIT_ENV: "Production", NODE_ENV: "production" }, "KIT_ENV", /"Production"/);
});

Deno.test("service: OTEL_SERVICE_NAME names the service and its key prefix", () => {
  const env = read({ OTEL_SERVICE_NAME: "chat-api_v2.1" });
  assert.equal(env.service, "chat-api_v2.1");
  assert.equal(env.keyPrefix, "chat-api_v2.1:");
  assert.equal(read({ OTEL_SERVICE_NAME: "a".repeat(100) }).service, "a".repeat(100));
  assert.equal(read({}).keyPrefix, undefined);
});

Deno.test("service: a name with other characters or over 100 long is refused", () => {
  for (const name of ["chat api", "chat:api", "chat/api", "dïner", "a".repeat(101)]) {
    refused({ OTEL_SERVICE_NAME: name }, "OTEL_SERVICE_NAME", /at most 100/);
  }
});

Deno.test("redis: REDIS_URL becomes the drivers' url option", () => {
  assert.deepEqual(read({ REDIS_URL: "redis://10.0.0.7:6379/2" }).redis, {
    url: "redis://10.0.0.7:6379/2",
  });
  assert.deepEqual(read({ REDIS_URL: "rediss://app:s3cret@cache.internal:6380" }).redis, {
    url: "rediss://app:s3cret@cache.internal:6380",
  });
});

Deno.test("redis: a REDIS_URL that is not redis:// or rediss:// is refused without its password", () => {
  for (
    const value of [
      "http://app:hunter2@cache:6379",
      "app:hunter2@cache:6379",
      "cache:6379",
      "redis://app:hun/ter2@cache:6379",
      "redis://app:hun@ter2@ca che:6379",
      "redis://",
    ]
  ) {
    const message = refused({ REDIS_URL: value }, "REDIS_URL", /redis:\/\/ or rediss:\/\/ URL/);
    assert.doesNotMatch(message, /hunter2|hun\/ter2|ter2/, message);
  }
  assert.match(
    refused({ REDIS_URL: "http://app:hunter2@cache:6379" }, "REDIS_URL"),
    /current value is "http:\/\/\[redacted\]@cache:6379"$/,
  );
});

Deno.test("postgres: DATABASE_URL becomes the db config's url", () => {
  for (
    const value of [
      "postgres://app:pw@db:5432/app",
      "postgresql://app@db/app?sslmode=require",
      "postgres://app@h1:5432,h2:5433/app",
      "postgres:///app?host=/var/run/postgresql",
    ]
  ) {
    assert.deepEqual(read({ DATABASE_URL: value, PGHOST: "ignored" }).postgres, { url: value });
  }
});

Deno.test("postgres: PG* alone give {}, postgres.js reads them itself", () => {
  for (
    const name of ["PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE"]
  ) {
    const value = { PGPORT: "5433", PGSSLMODE: "disable" }[name] ?? "x";
    assert.deepEqual(read({ [name]: value }).postgres, {}, name);
  }
  assert.equal(read({ PGAPPNAME: "x" }).postgres, undefined);
});

Deno.test("postgres: a DATABASE_URL that is not postgres:// or postgresql:// is refused without its password", () => {
  for (
    const value of [
      "mysql://app:hunter2@db/app",
      "app:hunter2@db/app",
      "postgres://app:hunter2@db:port/app",
      "postgres://app:hun/ter2@db:x/app",
    ]
  ) {
    const message = refused(
      { DATABASE_URL: value },
      "DATABASE_URL",
      /postgres:\/\/ or postgresql:\/\/ URL/,
    );
    assert.doesNotMatch(message, /hunter2|ter2/, message);
  }
});

Deno.test("postgres: a PGPORT that is not a port is refused", () => {
  for (const port of ["0", "65536", "54 32", "five", "-1"]) {
    refused({ PGPORT: port }, "PGPORT", /1 to 65535/);
  }
  assert.deepEqual(read({ PGPORT: "65535" }).postgres, {});
});

Deno.test("postgres: a PGSSLMODE asking for TLS is refused, as postgres.js ignores it", () => {
  for (const mode of ["require", "verify-ca", "verify-full"]) {
    refused({ PGHOST: "db", PGSSLMODE: mode }, "PGSSLMODE", /does not read it.*sslmode=/);
  }
  refused({ PGSSLMODE: "on" }, "PGSSLMODE");
  assert.deepEqual(read({ PGHOST: "db", PGSSLMODE: "prefer" }).postgres, {});
});

Deno.test("etcd: ETCD_ENDPOINTS, trimmed, with ETCD_USERNAME and ETCD_PASSWORD", () => {
  assert.deepEqual(read({ ETCD_ENDPOINTS: " http://10.0.0.1:2379 ,https://etcd-2:2379," }).etcd, {
    endpoints: ["http://10.0.0.1:2379", "https://etcd-2:2379"],
  });
  assert.deepEqual(
    read({ ETCD_ENDPOINTS: "http://e:2379", ETCD_USERNAME: "kit", ETCD_PASSWORD: "pw" }).etcd,
    { endpoints: ["http://e:2379"], username: "kit", password: "pw" },
  );
  assert.deepEqual(read({ ETCD_ENDPOINTS: "http://e:2379", ETCD_USERNAME: "kit" }).etcd, {
    endpoints: ["http://e:2379"],
    username: "kit",
  });
  // Credentials alone do not make a cluster.
  assert.equal(read({ ETCD_USERNAME: "kit", ETCD_PASSWORD: "pw" }).etcd, undefined);
});

Deno.test("etcd: an endpoint that is not an http(s) URL, or carries credentials, is refused", () => {
  refused({ ETCD_ENDPOINTS: "10.0.0.1:2379" }, "ETCD_ENDPOINTS", /http:\/\/ or https:\/\//);
  refused({ ETCD_ENDPOINTS: "http://e:2379,grpc://e:2379" }, "ETCD_ENDPOINTS", /"grpc:/);
  refused({ ETCD_ENDPOINTS: " , " }, "ETCD_ENDPOINTS", /at least one/);
  const message = refused(
    { ETCD_ENDPOINTS: "http://e1:2379,http://root:hunter2@e2:2379" },
    "ETCD_ENDPOINTS",
    /credentials.*ETCD_USERNAME and ETCD_PASSWORD/,
  );
  assert.doesNotMatch(message, /hunter2/);
  assert.doesNotMatch(
    refused({ ETCD_ENDPOINTS: "root:hunter2@e2:2379" }, "ETCD_ENDPOINTS"),
    /hunter2/,
  );
});

Deno.test("etcd: ETCD_PASSWORD without ETCD_USERNAME is refused, without the password", () => {
  const message = refused(
    { ETCD_ENDPOINTS: "http://e:2379", ETCD_PASSWORD: "hunter2" },
    "ETCD_PASSWORD",
    /needs 'ETCD_USERNAME'/,
  );
  assert.doesNotMatch(message, /hunter2/);
});

Deno.test("kafka: KAFKA_BROKERS becomes kafkaMq's brokers", () => {
  assert.deepEqual(read({ KAFKA_BROKERS: "k1:9092, 10.0.0.2:9093 ,[::1]:9094" }).kafka, {
    brokers: ["k1:9092", "10.0.0.2:9093", "[::1]:9094"],
  });
  assert.deepEqual(read({ KAFKA_BROKERS: "k:1,k:65535" }).kafka, { brokers: ["k:1", "k:65535"] });
});

Deno.test("kafka: a broker that is not host:port is refused", () => {
  for (
    const value of ["k1", "k1:0", "k1:65536", "k1:port", "k1:9092:1", "PLAINTEXT://k1:9092", ","]
  ) {
    refused({ KAFKA_BROKERS: value }, "KAFKA_BROKERS");
  }
  assert.doesNotMatch(
    refused({ KAFKA_BROKERS: "user:hunter2@k1:9092" }, "KAFKA_BROKERS"),
    /hunter2/,
  );
});

Deno.test("otel: OTEL_DENO, OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL", () => {
  assert.equal(read({ OTEL_DENO: "true" }).otel.enabled, true);
  assert.equal(read({ OTEL_DENO: "1" }).otel.enabled, true);
  assert.equal(read({ OTEL_DENO: "false" }).otel.enabled, false);
  assert.equal(read({ OTEL_DENO: "0" }).otel.enabled, false);
  assert.deepEqual(
    read({
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    }).otel,
    { enabled: true, endpoint: "http://collector:4318", protocol: "http/protobuf" },
  );
  assert.equal(read({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).otel.protocol, "grpc");
  assert.equal(read({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }).otel.protocol, "http/json");
});

Deno.test("otel: other values are refused", () => {
  refused({ OTEL_DENO: "yes" }, "OTEL_DENO", /"yes"/);
  refused({ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT");
  refused({ OTEL_EXPORTER_OTLP_PROTOCOL: "http" }, "OTEL_EXPORTER_OTLP_PROTOCOL", /"http\/json"/);
});

Deno.test("read() of a full environment gives every driver its options", () => {
  assert.deepEqual(
    read({
      KIT_ENV: "production",
      OTEL_SERVICE_NAME: "chat",
      REDIS_URL: "redis://r:6379",
      DATABASE_URL: "postgres://app@db/app",
      ETCD_ENDPOINTS: "http://e:2379",
      KAFKA_BROKERS: "k:9092",
      OTEL_DENO: "1",
    }),
    {
      environment: "production",
      service: "chat",
      keyPrefix: "chat:",
      redis: { url: "redis://r:6379" },
      postgres: { url: "postgres://app@db/app" },
      etcd: { endpoints: ["http://e:2379"] },
      kafka: { brokers: ["k:9092"] },
      otel: { enabled: true },
    },
  );
});

/** Runs `code` in a child deno with `flags` (and no other permission), with `env` set. */
async function child(
  code: string,
  flags: string[],
  env: Record<string, string> = {},
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  // Not `deno eval`, which grants every permission: `deno run -` reads the program from stdin.
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", ...flags, "-"],
    // Only what deno needs, so variables of the test run cannot change what the child reads.
    clearEnv: true,
    env: {
      ...Object.fromEntries(
        ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
          const value = Deno.env.get(name);
          return value === undefined ? [] : [[name, value]];
        }),
      ),
      NO_COLOR: "1",
      ...env,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = process.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const output = await process.output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const IMPORT = `import { read } from ${JSON.stringify(import.meta.resolve("./mod.ts"))};`;

Deno.test("read() without env permission says which --allow-env= to run with", async () => {
  const denied = await child(`${IMPORT}\nread();`, []);
  assert.equal(denied.success, false);
  assert.match(denied.stderr, new RegExp(`--allow-env=${VARIABLES.join(",")}`));
  assert.match(denied.stderr, /Cannot read the environment/);
});

Deno.test("read() runs with exactly --allow-env=VARIABLES", async () => {
  const allowed = await child(
    `${IMPORT}\nconsole.log(JSON.stringify(read()));`,
    [`--allow-env=${VARIABLES.join(",")}`],
    { REDIS_URL: "redis://r:6379", KIT_ENV: "production" },
  );
  assert.ok(allowed.success, allowed.stderr);
  const env = JSON.parse(allowed.stdout);
  assert.equal(env.environment, "production");
  assert.deepEqual(env.redis, { url: "redis://r:6379" });
});
