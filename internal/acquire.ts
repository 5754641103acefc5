/**
 * Taking something that must be given back (a lease, a lock, a registration) under a caller's
 * signal: when the caller gives up while the taking is in flight, what still arrives is released.
 *
 * @module
 */
import { optionalSignal } from "./signal.ts";

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
