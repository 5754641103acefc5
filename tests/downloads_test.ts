/**
 * What a fresh machine downloads: importing the kit (every component, as a JSR user's script
 * does) fetches no npm package, and the demo does not fetch the benchmarks' competitors. Each
 * case runs Deno with an empty DENO_DIR, so a package is downloaded or it is not, whatever
 * `deno info` would say.
 */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
/** npm packages that only bench/ uses, with its own deno.json and lockfile. */
const COMPETITORS = [
  "pino",
  "prom-client",
  "lru-cache",
  "rate-limiter-flexible",
  "uuid",
  "@sapphire/snowflake",
];

/** The npm packages (scoped names whole) a run left in `denoDir`. */
async function downloaded(denoDir: string): Promise<string[]> {
  const registry = `${denoDir}/npm/registry.npmjs.org`;
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(registry)) {
      if (!entry.name.startsWith("@")) {
        names.push(entry.name);
        continue;
      }
      for await (const scoped of Deno.readDir(`${registry}/${entry.name}`)) {
        names.push(`${entry.name}/${scoped.name}`);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

async function run(args: string[], denoDir: string, cwd: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { DENO_DIR: denoDir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, text);
  return text;
}

Deno.test("a script outside this repository importing every component downloads no npm package, checked or run", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "kit-denodir-" });
  const project = await Deno.makeTempDir({ prefix: "kit-user-" });
  try {
    const script = `${project}/main.ts`;
    await Deno.writeTextFile(
      script,
      `import * as kit from "${new URL("mod.ts", root).href}";
const names = Object.keys(kit).sort();
kit.clog.namespace("user").debug("loaded", { id: kit.uid.uuidv7() });
console.log(names.join(","));
`,
    );
    // Type-checking walks every analyzable import, dynamic ones too, as `deno test` would.
    await run(["check", "--quiet", "--no-lock", script], denoDir, project);
    const printed = await run(
      ["run", "--quiet", "--no-lock", "--allow-env", script],
      denoDir,
      project,
    );
    for (const component of ["cache", "clog", "db", "es", "mq", "once", "uid"]) {
      assert.ok(printed.includes(component), `the script saw ${component}: ${printed}`);
    }
    assert.deepEqual(await downloaded(denoDir), []);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
    await Deno.remove(project, { recursive: true });
  }
});

Deno.test("deno task demo on a fresh machine downloads none of the benchmarks' competitors", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "kit-denodir-" });
  try {
    await run(["task", "--quiet", "demo"], denoDir, root.pathname);
    const packages = await downloaded(denoDir);
    assert.ok(packages.includes("@electric-sql/pglite"), `the demo ran on PGlite: ${packages}`);
    assert.deepEqual(packages.filter((name) => COMPETITORS.includes(name)), []);
  } finally {
    await Deno.remove(denoDir, { recursive: true });
  }
});
