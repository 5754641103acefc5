/**
 * Keeps credentials out of logs and error messages: drivers pass every library error through
 * {@linkcode scrubError} where it enters the kit, and show addresses through
 * {@linkcode redactUrl}.
 *
 * @module
 */

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

// scheme://user:password@ — the password part, up to the last '@' before the path.
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*):[^\s/@]*@/gi;

/**
 * A URL (or any text holding URLs) with the password of each `scheme://user:password@host`
 * replaced by {@linkcode REDACTED}; the user name stays, as it helps to say who failed.
 *
 * @param text A URL or a message.
 * @returns The text without passwords.
 */
export function redactUrl(text: string): string {
  return text.replace(URL_PASSWORD, `$1:${REDACTED}@`);
}

/**
 * A setting that should have been a URL but is not, safe to repeat in an error: whatever precedes
 * its first '@' may be a password, with or without a scheme, so it is replaced.
 *
 * @param value The value as given.
 * @returns The value, with anything before an '@' redacted.
 */
export function redactMalformedUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@]*@/i, `$1${REDACTED}@`);
}

/** Replaces every occurrence of each secret, and every URL password, in `text`. */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (secret) out = out.replaceAll(secret, REDACTED);
  }
  return out;
}

// Properties of a library error worth keeping: they say what failed without holding payloads.
const KEPT = ["code", "errno", "syscall", "address", "port", "severity", "routine"] as const;

/**
 * A copy of a library error that holds no credential: the same name, message and stack with
 * `secrets` and URL passwords redacted, the plain fields that say what failed (`code`, `errno`,
 * `syscall`, `address`, `port`), a scrubbed `cause` and `errors`, and nothing else — so no
 * command arguments (ioredis keeps `AUTH user password` on its errors) and no client options.
 *
 * @param error Whatever the library threw.
 * @param secrets Passwords and tokens the driver was configured with.
 * @returns A scrubbed `Error` (or the value itself when it is not an object).
 */
export function scrubError(error: unknown, secrets: readonly string[] = []): unknown {
  return scrub(error, secrets, 0);
}

function scrub(error: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof error === "string") return redactText(error, secrets);
  if (!(error instanceof Error)) return error;
  const message = redactText(error.message, secrets);
  const inner = depth < 4 && error.cause !== undefined
    ? { cause: scrub(error.cause, secrets, depth + 1) }
    : undefined;
  const copy = error instanceof AggregateError
    ? new AggregateError(
      depth < 4 ? error.errors.map((each) => scrub(each, secrets, depth + 1)) : [],
      message,
      inner,
    )
    : new Error(message, inner);
  copy.name = error.name;
  if (error.stack) copy.stack = redactText(error.stack, secrets);
  const fields = copy as unknown as Record<string, unknown>;
  const source = error as unknown as Record<string, unknown>;
  for (const key of KEPT) {
    const value = source[key];
    if (typeof value === "string") fields[key] = redactText(value, secrets);
    else if (typeof value === "number") fields[key] = value;
  }
  return copy;
}
