/**
 * The error of making something, for tests of refusals.
 *
 * @module
 */

/**
 * Runs `make`, which may throw or return a promise that rejects, and returns its error; what it
 * made is disposed of when it did not fail.
 *
 * @param make Makes the thing expected to be refused.
 * @returns The error.
 * @throws {Error} `no error` when nothing failed.
 */
export async function errorOf(make: () => unknown): Promise<Error> {
  try {
    const made = await make();
    await (made as Partial<AsyncDisposable>)?.[Symbol.asyncDispose]?.();
  } catch (error) {
    return error as Error;
  }
  throw new Error("no error");
}
