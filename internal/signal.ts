/**
 * Waiting under an AbortSignal: sleeping, ending a wait when the signal aborts, refusing work once
 * it has, and checking a caller's `signal` option.
 *
 * @module
 */

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * `promise`, or the signal's reason as soon as `signal` aborts, whichever comes first. The work
 * behind `promise` goes on; only this wait ends.
 *
 * @param promise What to wait for.
 * @param signal Ends the wait early.
 * @returns The promise's outcome, or a rejection with the signal's reason.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {}); // settles unobserved
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Runs `run` under `signal`: refused with the signal's reason once it has aborted, and no longer
 * awaited when it aborts while `run` is in flight. Without a signal, just `run()`.
 *
 * @param signal The caller's signal, if any.
 * @param run Starts the work.
 * @returns The work's outcome, or a rejection with the signal's reason.
 */
export function underSignal<T>(
  signal: AbortSignal | undefined,
  run: () => Promise<T>,
): Promise<T> {
  if (signal === undefined) return run();
  if (signal.aborted) return Promise.reject(signal.reason);
  try {
    return abortable(run(), signal);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * For releases (unlock, unregister, resign): the work starts whatever the signal says, so a
 * caller whose request has ended still gives back what it holds; an aborted signal ends only the
 * caller's wait.
 *
 * @param action What is being done, for the error on a `signal` that is not an AbortSignal.
 * @param option The caller's `signal` option.
 * @param run Starts the release.
 * @returns The release's outcome, or a rejection with the signal's reason once it aborts.
 */
export function releaseUnderSignal<T>(
  action: string,
  option: unknown,
  run: () => Promise<T>,
): Promise<T> {
  try {
    const signal = optionalSignal(action, option);
    return abortable(run(), signal);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * {@linkcode underSignal} for a caller's `signal` option, which is checked first.
 *
 * @param action What is being done, for the error on a `signal` that is not an AbortSignal.
 * @param option The caller's `signal` option.
 * @param run Starts the work.
 * @returns The work's outcome, or a rejection with the signal's reason (or the TypeError).
 */
export function underSignalOption<T>(
  action: string,
  option: unknown,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return underSignal(optionalSignal(action, option), run);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Checks an optional `signal` option.
 *
 * @throws {TypeError} When it is given and not an AbortSignal.
 */
export function optionalSignal(action: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new TypeError(
    `Cannot ${action} as 'signal' must be an AbortSignal: current value is ${signal}`,
  );
}
