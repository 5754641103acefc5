/**
 * Every ```ts block of README.md runs as written: each is written to a module of its own under
 * `.kit-tmp/` (gitignored), type-checked and run with `deno run`, as a reader who copies it
 * would. The blocks import `@gochat/kit` and its subpaths, which resolve to this checkout through
 * the workspace's own `name` and `exports` in deno.json (a module inside the workspace may import
 * its package by name), so no import map is needed.
 *
 * A block passes when it type-checks (one `deno check` over all blocks), exits with 0 within
 * {@linkcode BLOCK_TIMEOUT_MS} and writes nothing to stderr (a `console.error` in an error
 * callback counts as a failure).
 *
 * Info-string words after `ts`: a service name (`redis`, `etcd`, `postgres`, …) runs the block
 * only when its `KIT_*` variable is set and puts `[service]` in the test name; such a block also
 * carries `ignore`, for readers' tools that run markdown blocks (`deno test --doc` itself leaves
 * README.md to this test: deno.json's `test.exclude`, so no block runs twice).
 * `ignore` alone marks a fragment that cannot run at all: the test is reported as ignored.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type ServiceName, serviceUrl } from "../testing/services.ts";

const root = new URL("../", import.meta.url);
/** Bound on one block's run. PGlite's start-up, the slowest, takes ~2 s. */
const BLOCK_TIMEOUT_MS = 30_000;
/** Bound on the one type check of all blocks (the kit's graph included when the cache is cold). */
const CHECK_TIMEOUT_MS = 60_000;
const SERVICES: readonly ServiceName[] = ["redis", "etcd", "postgres", "kafka", "es", "otlp"];
const LANGUAGES = new Set(["ts", "typescript"]);

/** One fenced TypeScript block of a markdown file. */
interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above the block. */
  heading: string;
  /** Info-string words after the language. */
  attributes: string[];
  code: string;
}

/** The ```ts blocks of a markdown text, with where they are. */
function typescriptBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  let heading = "(top)";
  for (let index = 0; index < lines.length; index++) {
    const open = /^(`{3,}|~{3,})\s*(.*)$/.exec(lines[index]);
    if (open === null) {
      const title = /^#{1,6}\s+(.*)$/.exec(lines[index]);
      if (title !== null) heading = title[1].trim();
      continue;
    }
    const [fence, info] = [open[1], open[2]];
    const [language = "", ...attributes] = info.split(/[\s,]+/).filter((word) => word !== "");
    const start = index;
    const body: string[] = [];
    for (index++; index < lines.length; index++) {
      const close = lines[index].trimEnd();
      if (close.startsWith(fence) && close.slice(fence.length).replaceAll(fence[0], "") === "") {
        break;
      }
      body.push(lines[index]);
    }
    if (LANGUAGES.has(language.toLowerCase())) {
      blocks.push({ line: start + 1, heading, attributes, code: body.join("\n") + "\n" });
    }
  }
  return blocks;
}

/** What a `deno` child process did. */
interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  timeoutMs: number;
}

/** Runs `deno <args>` in the repository, killed when `timeoutMs` has passed. */
async function deno(args: string[], timeoutMs: number): Promise<Outcome> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs);
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args,
      cwd: root,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: timeout.signal,
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout).trimEnd(),
      stderr: decoder.decode(output.stderr).trimEnd(),
      timedOut: timeout.signal.aborted,
      timeoutMs,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes each block to a module of its own inside the workspace; removes them after `use`. */
async function withModules<T>(
  blocks: readonly CodeBlock[],
  use: (paths: string[]) => Promise<T>,
): Promise<T> {
  const scratch = new URL(".kit-tmp/", root);
  await Deno.mkdir(scratch, { recursive: true });
  const directory = await Deno.makeTempDir({ dir: fileURLToPath(scratch), prefix: "readme-" });
  try {
    const paths = blocks.map((block) => `${directory}/readme_line_${block.line}.ts`);
    await Promise.all(blocks.map((block, index) => Deno.writeTextFile(paths[index], block.code)));
    return await use(paths);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

/** Fails with the block's output unless the outcome is a clean exit. */
function assertClean(outcome: Outcome, what: string): void {
  const printed = `\n--- stdout\n${outcome.stdout}\n--- stderr\n${outcome.stderr}`;
  assert.ok(!outcome.timedOut, `${what} did not finish within ${outcome.timeoutMs} ms${printed}`);
  assert.equal(outcome.code, 0, `${what} exited with ${outcome.code}${printed}`);
  assert.equal(outcome.stderr, "", `${what} wrote to stderr${printed}`);
}

/** How the test of one block is named and whether it runs, from its info string. */
function plan(block: CodeBlock): { name: string; ignore: boolean; services: ServiceName[] } {
  const services = SERVICES.filter((service) => block.attributes.includes(service));
  const tags = services.map((service) => `[${service}] `).join("");
  const missing = services.some((service) => serviceUrl(service) === undefined);
  const fragment = services.length === 0 && block.attributes.includes("ignore");
  return {
    name: `${tags}README.md:${block.line} block under "${block.heading}" runs as written`,
    ignore: missing || fragment,
    services,
  };
}

Deno.test("README blocks are found with their line, heading and info-string words", () => {
  const markdown = [
    "# Title",
    "```sh",
    "deno task test",
    "```",
    "## Part",
    "````md",
    "```ts",
    "inside another fence",
    "```",
    "````",
    "```ts",
    "console.log(1);",
    "```",
    "```ts ignore",
    "fragment;",
    "```",
    "```typescript ignore redis",
    "await redisCache({ url });",
    "```",
  ].join("\n");
  const found = typescriptBlocks(markdown);
  assert.deepEqual(found.map(({ line, heading, attributes }) => ({ line, heading, attributes })), [
    { line: 11, heading: "Part", attributes: [] },
    { line: 14, heading: "Part", attributes: ["ignore"] },
    { line: 17, heading: "Part", attributes: ["ignore", "redis"] },
  ]);
  assert.equal(found[0].code, "console.log(1);\n");
  assert.equal(plan(found[0]).ignore, false);
  assert.equal(plan(found[1]).ignore, true);
  assert.match(plan(found[2]).name, /^\[redis\] README\.md:17 /);
  assert.equal(plan(found[2]).ignore, serviceUrl("redis") === undefined);
});

const readme = await Deno.readTextFile(new URL("README.md", root));
const blocks = typescriptBlocks(readme);

Deno.test("README.md has TypeScript blocks; one that needs a service also says ignore", () => {
  assert.ok(blocks.length > 0, "no ```ts block found in README.md");
  for (const block of blocks) {
    // `deno test --doc` runs README blocks too and cannot tell whether the service is there.
    assert.ok(
      plan(block).services.length === 0 || block.attributes.includes("ignore"),
      `README.md:${block.line} names a service; add ignore so that deno test --doc skips it`,
    );
  }
});

const runnable = blocks.filter((block) => !plan(block).ignore);

// One type check for all blocks: a program per block would cost seconds each.
Deno.test("README.md blocks type-check as written", async () => {
  const outcome = await withModules(
    runnable,
    (paths) => deno(["check", "--quiet", ...paths], CHECK_TIMEOUT_MS),
  );
  assertClean(outcome, "deno check of the README blocks (files are named readme_line_<line>.ts)");
});

for (const block of blocks) {
  const { name, ignore } = plan(block);
  Deno.test({
    name,
    ignore,
    async fn() {
      const outcome = await withModules(
        [block],
        ([path]) => deno(["run", "--quiet", "--allow-all", "--no-check", path], BLOCK_TIMEOUT_MS),
      );
      assertClean(outcome, `README.md:${block.line} (${block.heading})`);
    },
  });
}
