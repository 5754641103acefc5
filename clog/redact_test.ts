import assert from "node:assert/strict";
import * as clog from "./mod.ts";
import { jsonFormatter } from "./format.ts";

const json: clog.ClogConfig = { level: "info", format: "json", output: "stdout" };

function logged(config: Partial<clog.ClogConfig>, write: (logger: clog.Logger) => void) {
  const sink = clog.memorySink();
  using logger = clog.create({ ...json, ...config }, { sinks: [sink] });
  write(logger);
  return sink.records.map((record) => JSON.parse(jsonFormatter()(record)));
}

Deno.test("credentials are redacted by default, at any depth, and URL passwords in strings", () => {
  const user = { id: 7, name: "ann", Password: "p1", profile: { apiKey: "k", email: "a@x" } };
  const [line] = logged({}, (logger) =>
    logger.with({ authorization: "Bearer abc" }).info("login", {
      user,
      tokens: [{ access_token: "t1" }],
      url: "postgres://app:s3cret@db:5432/chat",
      note: "mail me at a@x.org",
    }));
  assert.deepEqual(line.user, {
    id: 7,
    name: "ann",
    Password: "[redacted]",
    profile: { apiKey: "[redacted]", email: "a@x" },
  });
  assert.deepEqual(line.tokens, [{ access_token: "[redacted]" }]);
  assert.equal(line.url, "postgres://app:[redacted]@db:5432/chat");
  assert.equal(line.note, "mail me at a@x.org");
  assert.equal(line.authorization, "[redacted]", "bound fields too");
  assert.equal(user.Password, "p1", "the caller's object is not changed");
});

Deno.test("configured paths are redacted, with * for any one key; redactCredentials: false keeps credentials", () => {
  const [line] = logged(
    { redact: ["user.email", "*.phone", "headers.x-api-key"], redactCredentials: false },
    (logger) =>
      logger.info("signup", {
        user: { email: "a@x", phone: "1", token: "kept" },
        contact: { phone: "2" },
        headers: { "x-api-key": "k", accept: "json" },
        email: "top-level stays",
      }),
  );
  assert.deepEqual(line.user, { email: "[redacted]", phone: "[redacted]", token: "kept" });
  assert.deepEqual(line.contact, { phone: "[redacted]" });
  assert.deepEqual(line.headers, { "x-api-key": "[redacted]", accept: "json" });
  assert.equal(line.email, "top-level stays");
});

Deno.test("a record with nothing to redact reaches the sinks as given, and every sink gets the redacted one", () => {
  const fields = { id: 1, nested: { count: 2 } };
  const sink = clog.memorySink();
  using logger = clog.create(json, { sinks: [sink] });
  logger.info("plain", fields);
  logger.info("secret", { password: "x" });
  assert.equal(sink.records[0].fields, fields, "no copy");
  assert.deepEqual(sink.records[1].fields, { password: "[redacted]" });
});

Deno.test("caller: true records the calling file and line", () => {
  const [line] = logged({ caller: true }, (logger) => logger.namespace("im").info("here"));
  const expected = new Error().stack!.split("\n")[1].match(/:(\d+):\d+\)?$/)![1];
  assert.match(line.caller, /^clog\/redact_test\.ts:\d+$/);
  assert.equal(Math.abs(Number(line.caller.split(":")[1]) - Number(expected)), 1);
  const [plain] = logged({}, (logger) => logger.info("no caller"));
  assert.equal(plain.caller, undefined);
});

Deno.test("bad redaction settings are refused with the field", () => {
  assert.throws(
    () => clog.create({ ...json, redact: "password" as never }),
    /'redact' must be an array/,
  );
  assert.throws(
    () => clog.create({ ...json, redact: ["user..email"] }),
    /each 'redact' path .* "user\.\.email"/,
  );
  assert.throws(
    () => clog.create({ ...json, caller: "yes" as never }),
    /'caller' must be a boolean/,
  );
});
