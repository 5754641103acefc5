/**
 * db's default driver, PGlite, loaded when a provider is created without a driver. The module's
 * address is computed at run time, so that no module graph (`deno info`, a download of the
 * package, a bundle) takes in PGlite and its 25 MB npm package unless it is used.
 *
 * @module
 */
import type { DbDriver } from "./types.ts";

/** The part of `drivers/pglite.ts` the default needs. */
interface PgliteModule {
  pgliteDb(): DbDriver;
}

/** The address of `drivers/pglite.ts`, joined at run time: a literal would enter the graph. */
const PGLITE_DRIVER = ["..", "drivers", "pglite.ts"].join("/");

/** A PGlite driver (in memory, or on the config's `dataDir`), its module loaded on first use. */
export async function defaultDriver(): Promise<DbDriver> {
  const module: PgliteModule = await import(new URL(PGLITE_DRIVER, import.meta.url).href);
  return module.pgliteDb();
}
