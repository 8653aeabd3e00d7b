/**
 * Test kit: a throwaway certificate authority made with `openssl`, and a
 * certificate for `localhost` / 127.0.0.1 that it signed, for TLS tests.
 *
 * @module
 */

/** Whether `openssl` is installed; TLS tests skip without it. */
export const hasOpenssl: boolean = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

/** PEM text of a test CA and of a server certificate it signed. */
export interface TestCertificates {
  /** The CA's certificate: what a client trusts (`caCerts`). */
  ca: string;
  /** The server's certificate, for `localhost` and 127.0.0.1. */
  cert: string;
  /** The server's private key. */
  key: string;
}

async function openssl(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(stderr).trim()}`,
    );
  }
}

/**
 * Makes a CA and a `localhost` certificate it signed, valid for two days,
 * with P-256 keys. The files stay in `dir` (`ca.pem`, `cert.pem`,
 * `key.pem`) for tools that take paths.
 *
 * @param dir An existing folder, e.g. from `Deno.makeTempDir()`.
 * @returns The PEM texts.
 * @throws {Error} When openssl fails; check {@link hasOpenssl} first.
 *
 * @example
 * ```ts ignore
 * import { certificates, hasOpenssl } from "./tls.ts";
 *
 * if (hasOpenssl) {
 *   const dir = await Deno.makeTempDir();
 *   const { ca, cert, key } = await certificates(dir);
 * }
 * ```
 */
export async function certificates(dir: string): Promise<TestCertificates> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    "req",
    "-x509",
    ...ec,
    "-days",
    "2",
    "-subj",
    "/CN=test-ca",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  );
  await openssl(
    "req",
    ...ec,
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/req.csr`,
  );
  await Deno.writeTextFile(
    `${dir}/ext.cnf`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
  );
  await openssl(
    "x509",
    "-req",
    "-in",
    `${dir}/req.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    `${dir}/ext.cnf`,
    "-out",
    `${dir}/cert.pem`,
  );
  const read = (name: string) => Deno.readTextFile(`${dir}/${name}`);
  return {
    ca: await read("ca.pem"),
    cert: await read("cert.pem"),
    key: await read("key.pem"),
  };
}
