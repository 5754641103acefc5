import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** Entry points that standalone mode loads; none may reach an npm package statically. */
async function standaloneEntries(): Promise<string[]> {
  const entries = ["mod.ts"];
  for await (const entry of Deno.readDir(root)) {
    if (!entry.isDirectory || entry.name.startsWith(".")) continue;
    if (["drivers", "examples", "bench", "tests", "testing", "node_modules"].includes(entry.name)) {
      continue;
    }
    try {
      await Deno.stat(new URL(`${entry.name}/mod.ts`, root));
      entries.push(`${entry.name}/mod.ts`);
    } catch {
      // not a component folder
    }
  }
  return entries.sort();
}

interface Dependency {
  code?: { specifier: string };
  type?: { specifier: string };
  isDynamic?: boolean;
}
interface ModuleGraph {
  roots: string[];
  modules: { specifier: string; kind?: string; dependencies?: Dependency[] }[];
}

async function graphOf(path: string): Promise<ModuleGraph> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", path],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
}

/** Modules reachable from the roots over static imports only, and the dynamic edges met on the way. */
function staticClosure(graph: ModuleGraph): { reached: string[]; dynamicEdges: string[] } {
  const byName = new Map(graph.modules.map((module) => [module.specifier, module]));
  const reached = new Set<string>();
  const dynamicEdges: string[] = [];
  const pending = [...graph.roots];
  while (pending.length > 0) {
    const specifier = pending.pop() as string;
    if (reached.has(specifier)) continue;
    reached.add(specifier);
    for (const dependency of byName.get(specifier)?.dependencies ?? []) {
      for (const target of [dependency.code?.specifier, dependency.type?.specifier]) {
        if (target === undefined) continue;
        if (dependency.isDynamic) dynamicEdges.push(`${specifier} -> ${target}`);
        else pending.push(target);
      }
    }
  }
  return { reached: [...reached], dynamicEdges };
}

const isNpm = (specifier: string) => specifier.startsWith("npm:") || specifier.startsWith("npm/");

Deno.test("mod.ts and every <component>/mod.ts import no npm: module (standalone mode has zero npm deps)", async () => {
  const entries = await standaloneEntries();
  for (const component of ["clog", "uid", "coord", "cache", "db"]) {
    assert.ok(entries.includes(`${component}/mod.ts`), entries.join());
  }
  for (const entry of entries) {
    const graph = await graphOf(entry);
    const { reached, dynamicEdges } = staticClosure(graph);
    assert.ok(reached.length > 1, `${entry}: the graph was read`);
    assert.deepEqual(reached.filter(isNpm), [], `${entry} reaches npm packages`);
    // db's default driver, PGlite, is loaded by a path built at run time (db/default_driver.ts),
    // so no analyzable lazy import pulls it into the graph that a download or type check walks.
    assert.deepEqual([...new Set(dynamicEdges)], [], `${entry} has lazy imports`);
  }
});

Deno.test("the check over deno info would catch an npm import", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/mod.ts`, 'import "npm:is-number@7";\n');
    const { reached } = staticClosure(await graphOf(`${dir}/mod.ts`));
    assert.ok(reached.some(isNpm), reached.join());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
