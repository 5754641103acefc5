/**
 * The dependency layers of DESIGN.md, enforced on every static import of every non-test module:
 * a component imports only its own layer or lower ones, `internal/` imports nothing above it,
 * drivers never import each other, and only drivers import npm packages.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** Each top-level folder's layer; a module may import its own layer or lower ones. */
const LAYERS: Readonly<Record<string, number>> = {
  internal: 0,
  clog: 1,
  http: 1,
  env: 1,
  testing: 1,
  metrics: 2,
  uid: 3,
  coord: 3,
  cache: 3,
  db: 3,
  retry: 3,
  mq: 4,
  ratelimit: 4,
  once: 4,
  breaker: 4,
  es: 4,
  health: 5,
  rpc: 5,
  drivers: 6,
};

/** Folders of tests, examples and benchmarks, which may import anything. */
const FREE = new Set(["tests", "examples", "bench", ".ci"]);

const isTest = (path: string) => /_test\.ts$/.test(path) || path.includes("/testdata/");

async function* modules(dir: URL, prefix = ""): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
    const path = prefix + entry.name;
    if (entry.isDirectory) yield* modules(new URL(`${entry.name}/`, dir), `${path}/`);
    else if (path.endsWith(".ts")) yield path;
  }
}

/** Static import and re-export specifiers of a module, comments and strings in code aside. */
function importsOf(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const found: string[] = [];
  for (const match of code.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms)) {
    found.push(match[1]);
  }
  for (const match of code.matchAll(/^\s*import\s+"([^"]+)"/gm)) found.push(match[1]);
  return found;
}

/** The top-level folder of a repository path, or "" for a root file. */
const folderOf = (path: string) => path.includes("/") ? path.slice(0, path.indexOf("/")) : "";

/** Which driver a path under drivers/ belongs to: `drivers/redis/mq.ts` and `drivers/redis.ts` are `redis`. */
const driverOf = (path: string) => path.split("/")[1].replace(/(_test)?\.ts$/, "");

interface Edge {
  from: string;
  to: string;
}

async function edges(): Promise<Edge[]> {
  const found: Edge[] = [];
  for await (const path of modules(root)) {
    if (FREE.has(folderOf(path)) || isTest(path)) continue;
    const source = await Deno.readTextFile(new URL(path, root));
    for (const specifier of importsOf(source)) {
      if (!specifier.startsWith(".")) {
        found.push({ from: path, to: specifier });
        continue;
      }
      const target = new URL(specifier, new URL(path, root)).href.slice(root.href.length);
      found.push({ from: path, to: target });
    }
  }
  return found;
}

Deno.test("every module imports only its own layer or lower ones; internal/ imports only internal/", async () => {
  const all = await edges();
  assert.ok(all.length > 200, `the imports were read: ${all.length}`);
  const wrong: string[] = [];
  for (const { from, to } of all) {
    const source = folderOf(from);
    if (source === "" || to.startsWith("node:") || !to.endsWith(".ts")) continue;
    const target = folderOf(to);
    if (target === source) continue;
    const [mine, theirs] = [LAYERS[source], LAYERS[target]];
    if (mine === undefined) wrong.push(`${from}: folder '${source}' has no layer in this test`);
    else if (theirs === undefined || theirs > mine) wrong.push(`${from} -> ${to}`);
  }
  assert.deepEqual(wrong, []);
});

Deno.test("drivers never import each other", async () => {
  const wrong = (await edges()).filter(({ from, to }) =>
    folderOf(from) === "drivers" && folderOf(to) === "drivers" && driverOf(from) !== driverOf(to)
  ).map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(wrong, []);
});

Deno.test("only drivers import npm packages (or any bare specifier); the rest imports relative files and node:", async () => {
  const wrong = (await edges()).filter(({ from, to }) =>
    folderOf(from) !== "drivers" && !to.startsWith("node:") && !to.endsWith(".ts")
  ).map(({ from, to }) => `${from} -> ${to}`);
  assert.deepEqual(wrong, []);
});

Deno.test("the import reader sees type-only imports and re-exports, and skips comments", () => {
  const source = [
    `import type { Logger } from "../clog/mod.ts";`,
    `export { x } from "./y.ts";`,
    `// import { no } from "./comment.ts";`,
    `/** import { no } from "./doc.ts"; */`,
    `import {\n  a,\n  b,\n} from "./multi.ts";`,
  ].join("\n");
  assert.deepEqual(importsOf(source), ["../clog/mod.ts", "./y.ts", "./multi.ts"]);
});
