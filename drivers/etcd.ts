/**
 * The etcd driver of coord, over npm:etcd3. Cluster mode: pass
 * `etcdCoord({ endpoints })` as the driver of `coord.create`.
 *
 * @example Cluster mode
 * ```ts ignore
 * import { coord } from "@gochat/kit";
 * import { etcdCoord } from "@gochat/kit/drivers/etcd";
 *
 * await using c = await coord.create(coord.defaultConfig("production"), {
 *   driver: etcdCoord({ endpoints: ["http://127.0.0.1:2379"] }),
 * });
 * ```
 *
 * @example TLS to an IP address: the certificate's IP address is checked
 * ```ts ignore
 * import { coord } from "@gochat/kit";
 * import { etcdCoord } from "@gochat/kit/drivers/etcd";
 *
 * await using c = await coord.create(coord.defaultConfig("production"), {
 *   driver: etcdCoord({
 *     endpoints: ["https://10.0.0.5:2379"],
 *     tls: { ca: await Deno.readTextFile("ca.pem") }, // servername: "etcd.internal" if it names a host
 *   }),
 * });
 * ```
 *
 * @module
 */
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
} from "cockatiel";
import { Etcd3, type IOptions, isRecoverableError, type IWatchResponse, type Watcher } from "etcd3";
import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import { tlsServername as qualifiedServername } from "../internal/tls.ts";
import { DriverError } from "../coord/mod.ts";
import { CompactedError } from "../coord/driver.ts";
import type {
  Compare,
  CoordDriver,
  KeyValue,
  TxnOp,
  TxnResult,
  WatchBatch,
  WatchTarget,
} from "../coord/driver.ts";
import { checkConfig } from "../internal/config.ts";
import { closedDriverError, driverError } from "../internal/errors.ts";
import { AsyncQueue } from "../internal/async_queue.ts";
import { REDACTED, redactUrl, scrubError } from "../internal/redact.ts";

/** Options of {@linkcode etcdCoord}. */
export interface EtcdCoordOptions {
  /**
   * Client URLs, such as `http://127.0.0.1:2379`; a comma-separated string is accepted too.
   * Needed unless `client` is given. Credentials go in `username` and `password`, never in a URL.
   */
  readonly endpoints?: readonly string[] | string;
  /**
   * An existing etcd3 client (`new Etcd3(…)` from npm:etcd3) to use instead of opening one; the
   * connection options below are then ignored, its own retry and fault-handling policies apply,
   * and the driver never closes it.
   */
  readonly client?: EtcdClient;
  /** User name for etcd authentication. */
  readonly username?: string;
  /** Password for etcd authentication; never shown in an error or a log line. */
  readonly password?: string;
  /** TLS material (PEM) for `https://` endpoints, and the name to check certificates against. */
  readonly tls?: EtcdTlsOptions;
  /**
   * Deadline of each unary call.
   * @default {5000}
   */
  readonly requestTimeoutMs?: number;
  /**
   * Longest pause between attempts to re-establish a dropped watch stream.
   * @default {1000}
   */
  readonly watchRetryMaxMs?: number;
}

/** TLS settings of {@linkcode EtcdCoordOptions.tls}. */
export interface EtcdTlsOptions {
  /** CA certificate(s) (PEM) the servers' certificates must chain to. */
  readonly ca: string;
  /** Client certificate (PEM), for servers that ask for one; needs `key`. */
  readonly cert?: string;
  /** Private key (PEM) of `cert`. */
  readonly key?: string;
  /**
   * The name every server certificate must carry, a DNS name or an IP address, when it is not
   * the endpoints' host: say, endpoints reached by IP address whose certificates name a host.
   * Needed when the endpoints are on several hosts and one is reached by IP address (one name is
   * then checked for all).
   * @default {the endpoints' host}
   */
  readonly servername?: string;
}

/**
 * An etcd3 client the application already has, for {@linkcode EtcdCoordOptions.client}. Declared
 * by the kit, not imported from etcd3, so the kit's public types stay its own; any etcd3 `Etcd3`
 * instance fits.
 */
export interface EtcdClient {
  /** The KV service. */
  readonly kv: object;
  /** The lease service. */
  readonly leaseClient: object;
  /** Starts building a watch. */
  watch(): unknown;
  /** Closes the client's connections. */
  close(): void;
}

type Raw = Record<string, unknown>;

const COMPARE_TARGET = {
  createRevision: "Create",
  modRevision: "Mod",
  version: "Version",
  value: "Value",
} as const;
const COMPARE_RESULT = { "==": "Equal", "!=": "NotEqual", "<": "Less", ">": "Greater" } as const;

function rangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function toKeyValue(kv: Raw): KeyValue {
  const lease = String(kv.lease ?? "0");
  return {
    key: (kv.key as Buffer).toString(),
    value: (kv.value as Buffer).toString(),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: lease === "0" ? undefined : lease,
  };
}

function requestOp(op: TxnOp): Raw {
  switch (op.type) {
    case "get":
      return { request_range: { key: Buffer.from(op.key) } };
    case "oldest":
      return {
        request_range: {
          key: Buffer.from(op.prefix),
          range_end: rangeEnd(op.prefix),
          sort_order: "Ascend",
          sort_target: "Create",
          limit: 1,
        },
      };
    case "delete":
      return { request_delete_range: { key: Buffer.from(op.key) } };
    case "put":
      return {
        request_put: {
          key: Buffer.from(op.key),
          value: Buffer.from(op.value),
          lease: op.lease ?? "0",
        },
      };
  }
}

function compareOp(compare: Compare): Raw {
  const base: Raw = {
    key: Buffer.from(compare.key),
    target: COMPARE_TARGET[compare.target],
    result: COMPARE_RESULT[compare.op],
  };
  switch (compare.target) {
    case "createRevision":
      return { ...base, create_revision: compare.value };
    case "modRevision":
      return { ...base, mod_revision: compare.value };
    case "version":
      return { ...base, version: compare.value };
    case "value":
      return { ...base, value: Buffer.from(compare.value) };
  }
}

class EtcdCoordDriver implements CoordDriver {
  readonly name = "etcd";
  // etcd's smallest lease is 1.5 × the election timeout (1 s by default), granted in whole seconds.
  readonly minLeaseTtlMs = 2000;
  readonly leaseTtlGranularityMs = 1000;
  readonly #client: Etcd3;
  readonly #timeoutMs: number;
  #closed = false;

  /** Whether the client is the driver's own (opened, and so closed, by it). */
  readonly #owned: boolean;
  /** Where errors say they tried (the endpoints; unknown for an application's own client). */
  readonly #where: string;
  /** Credentials an etcd3 error must never carry into the kit. */
  readonly #secrets: readonly string[];

  constructor(
    client: Etcd3,
    timeoutMs: number,
    owned: boolean,
    where: readonly string[] = [],
    secrets: readonly string[] = [],
  ) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
    this.#owned = owned;
    this.#where = where.map(redactUrl).join(", ");
    this.#secrets = secrets;
  }

  /**
   * The DriverError for an etcd3 failure, where it enters the kit: scrubbed of credentials, and
   * saying which endpoints were tried.
   */
  #error(operation: string, error: unknown): DriverError {
    const cause = scrubError(error, this.#secrets);
    if (this.#where && cause instanceof Error) {
      cause.message = `${cause.message.trim()} (endpoints: ${this.#where})`;
    }
    return driverError(this.name, operation, cause);
  }

  /** Client-side deadline on top of the gRPC one, so a call never hangs past it. */
  async #call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw closedDriverError(this.name, operation);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
    } catch (error) {
      throw error instanceof DriverError ? error : this.#error(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  #deadline(): { deadline: number } {
    return { deadline: Date.now() + this.#timeoutMs };
  }

  ping(): Promise<void> {
    return this.#call("ping", async () => {
      await this.#client.kv.range({ key: Buffer.from("\0"), limit: 1 }, this.#deadline());
    });
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.#call("get", async () => {
      const response = await this.#client.kv.range({ key: Buffer.from(key) }, this.#deadline());
      const kv = response.kvs[0];
      return kv ? toKeyValue(kv as unknown as Raw) : undefined;
    });
  }

  list(prefix: string): Promise<{ kvs: KeyValue[]; revision: number }> {
    return this.#call("list", async () => {
      const response = await this.#client.kv.range(
        { key: Buffer.from(prefix), range_end: rangeEnd(prefix) },
        this.#deadline(),
      );
      return {
        kvs: response.kvs.map((kv) => toKeyValue(kv as unknown as Raw)),
        revision: Number(response.header.revision),
      };
    });
  }

  put(key: string, value: string, lease?: string): Promise<number> {
    return this.#call("put", async () => {
      const response = await this.#client.kv.put(
        { key: Buffer.from(key), value: Buffer.from(value), lease: lease ?? "0" },
        this.#deadline(),
      );
      return Number(response.header.revision);
    });
  }

  delete(key: string): Promise<boolean> {
    return this.#call("delete", async () => {
      const response = await this.#client.kv.deleteRange(
        { key: Buffer.from(key) },
        this.#deadline(),
      );
      return Number(response.deleted) > 0;
    });
  }

  txn(
    compares: readonly Compare[],
    success: readonly TxnOp[],
    failure: readonly TxnOp[],
  ): Promise<TxnResult> {
    return this.#call("txn", async () => {
      const response = await this.#client.kv.txn(
        {
          compare: compares.map(compareOp),
          success: success.map(requestOp),
          failure: failure.map(requestOp),
        } as never,
        this.#deadline(),
      );
      const branch = response.succeeded ? success : failure;
      const gets: (KeyValue | undefined)[] = [];
      response.responses.forEach((result, index) => {
        const type = branch[index]?.type;
        if (type !== "get" && type !== "oldest") return;
        const kv = (result as unknown as { response_range?: { kvs: Raw[] } }).response_range
          ?.kvs[0];
        gets.push(kv ? toKeyValue(kv) : undefined);
      });
      return { succeeded: response.succeeded, revision: Number(response.header.revision), gets };
    });
  }

  grantLease(ttlMs: number): Promise<{ id: string; ttlMs: number }> {
    return this.#call("grantLease", async () => {
      const response = await this.#client.leaseClient.leaseGrant(
        { TTL: Math.ceil(ttlMs / 1000) },
        this.#deadline(),
      );
      return { id: String(response.ID), ttlMs: Number(response.TTL) * 1000 };
    });
  }

  keepAlive(id: string): Promise<number> {
    return this.#call("keepAlive", async () => {
      const stream = await this.#client.leaseClient.leaseKeepAlive(this.#deadline());
      try {
        const response = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on("data", resolve);
          stream.on("error", reject);
          stream.write({ ID: id });
        });
        return Number(response.TTL) * 1000;
      } finally {
        stream.end();
      }
    });
  }

  leaseTimeToLive(id: string): Promise<number> {
    return this.#call("leaseTimeToLive", async () => {
      const response = await this.#client.leaseClient.leaseTimeToLive({ ID: id }, this.#deadline());
      const ttl = Number(response.TTL);
      return ttl > 0 ? ttl * 1000 : 0;
    });
  }

  revokeLease(id: string): Promise<void> {
    return this.#call("revokeLease", async () => {
      try {
        await this.#client.leaseClient.leaseRevoke({ ID: id }, this.#deadline());
      } catch (error) {
        if (/lease not found/i.test(String((error as Error)?.message))) return;
        throw error;
      }
    });
  }

  watch(target: WatchTarget, fromRevision: number, signal: AbortSignal): AsyncIterable<WatchBatch> {
    if (this.#closed) throw closedDriverError(this.name, "watch");
    const builder = this.#client.watch().startRevision(String(fromRevision));
    if (target.prefix) builder.prefix(target.key);
    else builder.key(target.key);
    const watcher: Watcher = builder.watcher();
    let cancelled = false;
    const cancel = () => {
      if (cancelled) return;
      cancelled = true;
      signal.removeEventListener("abort", onAbort);
      // Cancelling a watcher whose stream is down rejects; nothing is left to release then.
      watcher.cancel().catch(() => {});
    };
    const queue = new AsyncQueue<WatchBatch>(cancel);
    const onAbort = () => {
      queue.end();
      cancel();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    watcher.on("data", (response: IWatchResponse) => {
      const events = response.events.map((event) => {
        const kv = toKeyValue(event.kv as unknown as Raw);
        return {
          type: String(event.type) === "Delete" || Number(event.type) === 1
            ? "delete" as const
            : "put" as const,
          key: kv.key,
          value: kv.value,
          revision: kv.modRevision,
          createRevision: kv.createRevision,
        };
      });
      if (events.length > 0) {
        queue.push({ revision: Number(response.header.revision), events });
      }
    });
    watcher.on("error", (error: Error) => {
      cancel();
      // etcd 3.4 cancels a watch on a compacted revision with an empty reason; any server-side
      // cancel is answered the same safe way, by re-listing.
      const compacted = /compacted|Watcher canceled/i.test(error.message);
      queue.fail(compacted ? new CompactedError(0) : this.#error("watch", error));
    });
    if (signal.aborted) onAbort();
    return queue;
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#owned) this.#client.close();
    }
    return Promise.resolve();
  }
}

/**
 * The host of an endpoint (brackets of an IPv6 address removed).
 *
 * @throws {TypeError} When the endpoint is not an http(s) URL, or carries credentials.
 */
function endpointHost(endpoint: string): string {
  let url: URL | undefined;
  try {
    url = /^https?:\/\/[^/]+/.test(endpoint) ? new URL(endpoint) : undefined;
  } catch {
    // not a URL: refused below
  }
  if (!url) {
    throw new TypeError(
      `Cannot create etcd driver as each endpoint must be an http(s) URL: current value is ${
        JSON.stringify(redactUrl(endpoint))
      }`,
    );
  }
  if (url.username || url.password) {
    throw new TypeError(
      `Cannot create etcd driver as an endpoint must not carry credentials (give them as the 'username' and 'password' options): current value is ${
        JSON.stringify(endpoint.replace(/^(https?:\/\/)[^/]*@/, `$1${REDACTED}@`))
      }`,
    );
  }
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * The name gRPC checks server certificates against, when it is not each endpoint's own host.
 * (An IP address is passed fully qualified: see {@linkcode qualifiedServername}.)
 */
function etcdServername(
  servername: string | undefined,
  hosts: readonly string[],
  endpoints: readonly string[],
): string | undefined {
  if (servername !== undefined && (typeof servername !== "string" || servername.length === 0)) {
    throw new TypeError(
      `Cannot create etcd driver as 'tls.servername' must be a non-empty string: current value is ${
        JSON.stringify(servername)
      }`,
    );
  }
  if (servername === undefined && hosts.some((host) => isIP(host) !== 0)) {
    if (new Set(hosts).size > 1) {
      throw new TypeError(
        `Cannot create etcd driver as 'tls.servername' must be given when TLS endpoints are on several hosts, one reached by IP address (one name is checked for all): current endpoints are ${
          JSON.stringify(endpoints.join(","))
        }`,
      );
    }
    servername = hosts[0];
  }
  return servername === undefined ? undefined : qualifiedServername(servername);
}

const ETCD_OPTIONS = [
  "endpoints",
  "client",
  "username",
  "password",
  "tls",
  "requestTimeoutMs",
  "watchRetryMaxMs",
] as const satisfies readonly (keyof EtcdCoordOptions)[];

/**
 * Creates the etcd driver for coord.
 *
 * @param options Endpoints, credentials, TLS and timeouts.
 * @returns The driver; `coord.create` checks that it answers.
 * @throws {TypeError} On an unknown option; when no endpoint is given, one is not an http(s) URL or carries
 * credentials, TLS endpoints on several hosts include an IP address without `tls.servername`, or
 * `username` is used over TLS with an endpoint given by IP address.
 */
export function etcdCoord(options: EtcdCoordOptions): CoordDriver {
  checkConfig("etcdCoord", options, ETCD_OPTIONS, { argument: "options", noun: "option" });
  const timeoutMs = options?.requestTimeoutMs ?? 5000;
  if (!(timeoutMs > 0)) {
    throw new RangeError(
      `Cannot create etcd driver as 'requestTimeoutMs' must be positive: current value is ${timeoutMs}`,
    );
  }
  if (options?.client !== undefined) {
    const client = options.client as Partial<EtcdClient> | null;
    if (
      typeof client?.kv !== "object" || typeof client.leaseClient !== "object" ||
      typeof client.watch !== "function" || typeof client.close !== "function"
    ) {
      throw new TypeError(
        `Cannot create etcd driver as 'client' must be an etcd3 client: current value is ${client}`,
      );
    }
    return new EtcdCoordDriver(options.client as unknown as Etcd3, timeoutMs, false);
  }
  const endpoints = typeof options?.endpoints === "string"
    ? options.endpoints.split(",").map((endpoint) => endpoint.trim()).filter(Boolean)
    : [...(options?.endpoints ?? [])];
  if (endpoints.length === 0) {
    throw new TypeError(
      "Cannot create etcd driver as 'endpoints' must name at least one URL (or 'client' be given)",
    );
  }
  const hosts = endpoints.map(endpointHost);
  const clientOptions: IOptions = {
    hosts: endpoints,
    dialTimeout: timeoutMs,
    faultHandling: {
      // Fail fast while a host is down and try it again soon: coord's own loops do the retrying.
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: 500,
          breaker: new ConsecutiveBreaker(3),
        }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: 1 }),
      // etcd3 calls next() on this factory to get its first backoff.
      watchBackoff: new ExponentialBackoff({
        initialDelay: 100,
        maxDelay: options.watchRetryMaxMs ?? 1000,
      }) as unknown as NonNullable<IOptions["faultHandling"]>["watchBackoff"],
    },
  };
  if (options.username !== undefined) {
    clientOptions.auth = { username: options.username, password: options.password ?? "" };
  }
  if (options.tls) {
    clientOptions.credentials = {
      rootCertificate: Buffer.from(options.tls.ca),
      ...(options.tls.cert ? { certChain: Buffer.from(options.tls.cert) } : {}),
      ...(options.tls.key ? { privateKey: Buffer.from(options.tls.key) } : {}),
    };
  }
  if (options.tls || endpoints.some((endpoint) => endpoint.startsWith("https://"))) {
    const servername = etcdServername(options.tls?.servername, hosts, endpoints);
    if (servername !== undefined) {
      clientOptions.grpcOptions = { "grpc.ssl_target_name_override": servername };
    }
    if (options.username !== undefined && hosts.some((host) => isIP(host) !== 0)) {
      // etcd3 exchanges the password for a token on a connection of its own that takes no gRPC
      // options, so the name override cannot reach it.
      throw new TypeError(
        `Cannot create etcd driver as 'username' over TLS needs endpoints named by host name (a name in the server certificate), not by IP address: current value is ${
          JSON.stringify(endpoints.join(","))
        }`,
      );
    }
  }
  const secrets = options.password ? [options.password] : [];
  return new EtcdCoordDriver(new Etcd3(clientOptions), timeoutMs, true, endpoints, secrets);
}
