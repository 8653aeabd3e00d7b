// The client over TLS, with a throwaway CA made by openssl.

import assert from "node:assert/strict";
import { Server } from "../server/mod.ts";
import { connect } from "./client.ts";
import { NotConnectedError } from "./errors.ts";

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
}).output().then((o) => o.success, () => false);

async function openssl(...args: string[]): Promise<void> {
  const { success } = await new Deno.Command("openssl", {
    args,
    stdout: "null",
    stderr: "null",
  }).output();
  if (!success) throw new Error(`openssl ${args[0]} failed`);
}

/** A CA and a localhost certificate it signed, as PEM text. */
async function certificates(dir: string) {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  await openssl(
    "req",
    "-x509",
    ...ec,
    "-nodes",
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
    "-nodes",
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
  return {
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    cert: await Deno.readTextFile(`${dir}/cert.pem`),
    key: await Deno.readTextFile(`${dir}/key.pem`),
  };
}

Deno.test({
  name: "Client talks to a TLS server that its caCerts trust",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const quiet = () => {};
    const server = new Server({
      logger: { error: quiet, warn: quiet, info: quiet, debug: quiet },
    });
    try {
      const { ca, cert, key } = await certificates(dir);
      server.handle("/echo", (ctx) => ctx.data);
      const listener = await server.listen({
        hostname: "127.0.0.1",
        port: 0,
        cert,
        key,
      });
      const port = (listener.addr as Deno.NetAddr).port;
      await using client = await connect(`tls://localhost:${port}`, {
        caCerts: [ca],
        keepalive: false,
      });
      const { data } = await client.request("/echo", new Uint8Array([7]));
      assert.deepEqual(data, new Uint8Array([7]));

      await assert.rejects(
        connect(`tls://localhost:${port}`, { keepalive: false }),
        NotConnectedError,
      );

      const cli = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./main.ts", import.meta.url).pathname,
          `tls://localhost:${port}`,
          "/echo",
          "over tls",
          "--ca-cert",
          `${dir}/ca.pem`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(cli.stdout), "over tls\n");
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
