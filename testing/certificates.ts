/**
 * Throwaway TLS material made with `openssl`, for tests of drivers over TLS: a CA, a server
 * certificate it signed, and a second CA that signed nothing.
 *
 * @module
 */

/** PEM material from {@linkcode makeCertificates}. */
export interface TestCertificates {
  /** The CA that signed `cert`. */
  readonly ca: string;
  /** The server certificate. */
  readonly cert: string;
  /** The server certificate's private key. */
  readonly key: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  readonly otherCa: string;
  /** The folder the files are in (`ca.pem`, `server.pem`, `server.key`), to hand to a server. */
  readonly dir: string;
}

/** Whether the `openssl` command is installed. */
export function opensslAvailable(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
}

/**
 * Makes a CA and a server certificate for IP 127.0.0.1 and the DNS names given, valid one day.
 *
 * @param dir An existing folder to write the files into.
 * @param dnsNames DNS names the server certificate carries besides IP 127.0.0.1.
 * @returns The PEM texts and the folder.
 */
export async function makeCertificates(
  dir: string,
  dnsNames: readonly string[] = ["kit.test"],
): Promise<TestCertificates> {
  const ca = ["-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"];
  await openssl(dir, "req", ...ca, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=kit CA");
  await openssl(dir, "req", ...ca, "-keyout", "other.key", "-out", "other.pem", "-subj", "/CN=x");
  await openssl(
    dir,
    "req",
    ...["-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr"],
    ...["-subj", "/CN=kit server"],
  );
  const names = ["IP:127.0.0.1", ...dnsNames.map((name) => `DNS:${name}`)].join(",");
  await Deno.writeTextFile(
    `${dir}/san.cnf`,
    `subjectAltName=${names}\nextendedKeyUsage=serverAuth\n`,
  );
  await openssl(
    dir,
    "x509",
    ...["-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
    ...["-out", "server.pem", "-days", "1", "-extfile", "san.cnf"],
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return {
    ca: await read("ca.pem"),
    cert: await read("server.pem"),
    key: await read("server.key"),
    otherCa: await read("other.pem"),
    dir,
  };
}
