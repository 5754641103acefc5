/**
 * clog beside pino, both writing the same JSON info line with three fields to
 * /dev/null synchronously (one write per line), and both skipping a call below
 * their level.
 *
 * Run: deno bench --allow-all bench/clog_bench.ts
 */
import pino from "pino";
import * as clog from "../clog/mod.ts";

const devNull = { file: "/dev/null" } as const;

const kit = clog.create({ level: "info", format: "json", output: devNull }).namespace("bench");

// pino's fastest setup: numeric level, epoch time, pid and hostname, one write per line.
const pinoDefault = pino(pino.destination({ dest: "/dev/null", sync: true }));
// pino producing the same line shape as clog: ISO time, level label, namespace.
const pinoSameShape = pino(
  {
    base: null,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  },
  pino.destination({ dest: "/dev/null", sync: true }),
).child({ namespace: "bench" });

Deno.bench("clog: JSON info line, 3 fields", { group: "info line", baseline: true }, () => {
  kit.info("request served", { user_id: 42, route: "/v1/messages", ok: true });
});
Deno.bench("pino (default shape): info line, 3 fields", { group: "info line" }, () => {
  pinoDefault.info({ user_id: 42, route: "/v1/messages", ok: true }, "request served");
});
Deno.bench("pino (clog's shape): info line, 3 fields", { group: "info line" }, () => {
  pinoSameShape.info({ user_id: 42, route: "/v1/messages", ok: true }, "request served");
});

const fields = { user_id: 42, route: "/v1/messages", ok: true };
Deno.bench("clog: debug call below info level", { group: "below level", baseline: true }, () => {
  kit.debug("request served", fields);
});
Deno.bench("pino: debug call below info level", { group: "below level" }, () => {
  pinoDefault.debug(fields, "request served");
});
