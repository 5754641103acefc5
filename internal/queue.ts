/**
 * A push-to-pull bridge: producers push values (or an error, or the end), one
 * consumer pulls them with `for await`.
 *
 * @module
 */

/** An unbounded queue consumed as an async iterable by a single reader. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  #items: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #failWaiting: ((error: unknown) => void) | undefined;
  #error: unknown;
  #failed = false;
  #ended = false;
  readonly #onReturn: (() => void) | undefined;

  /** @param onReturn Called once when the reader stops early (break) or the queue ends. */
  constructor(onReturn?: () => void) {
    this.#onReturn = onReturn;
  }

  /** Whether the queue was ended or failed. */
  get closed(): boolean {
    return this.#ended || this.#failed;
  }

  /** Adds a value for the reader. Ignored once the queue is closed. */
  push(item: T): void {
    if (this.closed) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      resolve({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  /** Ends the iteration after the queued values. */
  end(): void {
    if (this.closed) return;
    this.#ended = true;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#waiting = this.#failWaiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  /** Makes the reader throw `error` after the queued values. */
  fail(error: unknown): void {
    if (this.closed) return;
    this.#failed = true;
    this.#error = error;
    if (this.#failWaiting) {
      const reject = this.#failWaiting;
      this.#waiting = this.#failWaiting = undefined;
      reject(error);
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.#items.length > 0) {
          return Promise.resolve({ value: this.#items.shift() as T, done: false });
        }
        if (this.#failed) return Promise.reject(this.#error);
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          this.#waiting = resolve;
          this.#failWaiting = reject;
        });
      },
      return: () => {
        this.end();
        this.#items.length = 0;
        this.#onReturn?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

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
 * Runs `acquire` under `signal`, for work that takes something that must be given back (a lease,
 * a lock, a registration). Refused with the signal's reason once it has aborted. When it aborts
 * while `acquire` is in flight, the wait ends at once with the reason, and whatever `acquire`
 * still gets is handed to `release`: nothing stays held for a caller that has gone.
 *
 * @param action What is being done, for the error on a `signal` that is not an AbortSignal.
 * @param option The caller's `signal` option, checked here.
 * @param acquire Starts the work.
 * @param release Gives back what a caller that aborted would otherwise hold.
 * @param onReleaseError Told when `release` fails (the caller is gone, so nobody else is).
 * @returns What `acquire` got, or a rejection with the signal's reason.
 */
export function acquireUnderSignal<T>(
  action: string,
  option: unknown,
  acquire: () => Promise<T>,
  release: (value: T) => Promise<unknown>,
  onReleaseError: (error: unknown) => void,
): Promise<T> {
  let signal: AbortSignal | undefined, work: Promise<T>;
  try {
    signal = optionalSignal(action, option);
    if (signal === undefined) return acquire();
    if (signal.aborted) return Promise.reject(signal.reason);
    work = acquire();
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<T>((resolve, reject) => {
    let abandoned = false;
    const onAbort = () => {
      abandoned = true;
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    work.then((value) => {
      signal.removeEventListener("abort", onAbort);
      if (!abandoned) return resolve(value);
      return release(value).catch(onReleaseError);
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error); // ignored when the abort already settled the wait
    });
  });
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
