import assert from "node:assert/strict";
import { REDACTED, redactUrl, scrubError } from "./redact.ts";

Deno.test("redactUrl() hides the password of every URL and keeps the user", () => {
  assert.equal(
    redactUrl("connect http://root:s3cr:et@10.0.0.1:2379 and redis://:pw@h:6379/0 failed"),
    `connect http://root:${REDACTED}@10.0.0.1:2379 and redis://:${REDACTED}@h:6379/0 failed`,
  );
  assert.equal(redactUrl("postgres://app@db:5432/x"), "postgres://app@db:5432/x");
});

Deno.test("scrubError() keeps what failed and drops command arguments and secrets", () => {
  const library = Object.assign(new Error("WRONGPASS for AUTH default hunter2"), {
    code: "WRONGPASS",
    command: { name: "auth", args: ["default", "hunter2"] },
  });
  const outer = new AggregateError([library], "all failed: hunter2", { cause: library });
  const scrubbed = scrubError(outer, ["hunter2"]) as AggregateError;
  const text = JSON.stringify({
    message: scrubbed.message,
    stack: scrubbed.stack,
    errors: scrubbed.errors.map((e) => ({ ...e, message: e.message })),
    cause: { ...(scrubbed.cause as object) },
  });
  assert.ok(!text.includes("hunter2"), text);
  assert.equal((scrubbed.errors[0] as { code: string }).code, "WRONGPASS");
  assert.equal((scrubbed.errors[0] as { command?: unknown }).command, undefined);
  assert.equal((scrubbed.cause as Error).message, `WRONGPASS for AUTH default ${REDACTED}`);
  assert.equal(scrubError("x hunter2", ["hunter2"]), `x ${REDACTED}`);
});
