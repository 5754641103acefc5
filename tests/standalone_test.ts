import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** Entry points that standalone mode loads; none may reach an npm package. */
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

interface ModuleGraph {
  modules: { specifier: string; kind?: string }[];
}

Deno.test("mod.ts and every <component>/mod.ts load no npm: module (standalone mode has zero npm deps)", async () => {
  const entries = await standaloneEntries();
  assert.ok(entries.includes("clog/mod.ts") && entries.includes("uid/mod.ts"), entries.join());
  for (const entry of entries) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
    const npm = graph.modules.filter((m) => m.specifier.startsWith("npm:") || m.kind === "npm");
    assert.deepEqual(npm.map((m) => m.specifier), [], `${entry} reaches npm packages`);
    assert.ok(graph.modules.length > 1, `${entry}: the graph was read`);
  }
});

Deno.test("the check over deno info would catch an npm import", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/mod.ts`, 'import "npm:is-number@7";\n');
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `${dir}/mod.ts`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as ModuleGraph;
    const npm = graph.modules.filter((m) => m.specifier.startsWith("npm:") || m.kind === "npm");
    assert.ok(npm.length > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
