import assert from "node:assert/strict";
import * as coord from "../coord/mod.ts";
import { capturingLogger } from "../testing/logger.ts";
import * as ratelimit from "./mod.ts";

Deno.test("a rule name no rule has is logged once per name, saying what unknownRule does", async () => {
  const { logger, logs } = capturingLogger();
  await using limiter = await ratelimit.create(ratelimit.defaultConfig("development"), { logger });
  for (let i = 0; i < 3; i++) assert.equal((await limiter.allow("user:1", "login")).allowed, false);
  await limiter.allow("user:1", "signup");
  const warnings = logs.records.filter((record) => record.level === "warn");
  assert.deepEqual(warnings.map((record) => record.fields.rule), ["login", "signup"]);
  assert.match(
    warnings[0].msg,
    /rule 'login' is not defined: unknownRule "deny" denies every request/,
  );
  assert.equal(warnings[0].fields.unknownRule, "deny");
});

Deno.test("the warning names the default rule's effect and allow's", async () => {
  for (
    const [unknownRule, effect] of [
      ["allow", /allows every request/],
      ["default", /applies the rule 'default'/],
    ] as const
  ) {
    const { logger, logs } = capturingLogger();
    await using limiter = await ratelimit.create({
      ...ratelimit.defaultConfig("development"),
      unknownRule,
    }, { logger });
    await limiter.allow("user:1", "login");
    assert.equal(logs.records.length, 1);
    assert.match(logs.records[0].msg, effect);
  }
});

Deno.test("a defined rule logs nothing", async () => {
  const { logger, logs } = capturingLogger();
  await using limiter = await ratelimit.create({
    ...ratelimit.defaultConfig("development"),
    rules: { login: { rate: 1, burst: 5 } },
  }, { logger });
  await limiter.allow("user:1", "login");
  assert.deepEqual(logs.records, []);
});

Deno.test("env or service without coord is refused at create, naming the fields", async () => {
  const base = ratelimit.defaultConfig("production");
  for (
    const [config, named] of [
      [{ ...base, env: "prod", service: "im" }, /'env' and 'service'/],
      [{ ...base, env: "prod" }, /'env' name/],
      [{ ...base, service: "im" }, /'service' name/],
    ] as const
  ) {
    await assert.rejects(
      ratelimit.create(config),
      (e: Error) =>
        e instanceof TypeError && named.test(e.message) && /\{ coord \}/.test(e.message),
    );
  }
  // With coord they name the rules' key.
  await using provider = await coord.create();
  await using limiter = await ratelimit.create({ ...base, env: "prod", service: "im" }, {
    coord: provider,
  });
  assert.deepEqual(Object.keys(limiter.rules()), []);
});
