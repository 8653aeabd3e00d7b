// The client over TLS, with a throwaway CA made by openssl.

import assert from "node:assert/strict";
import { Server } from "../server/mod.ts";
import { certificates, FakeTime, hasOpenssl, waitFor } from "../testing/mod.ts";
import { Client } from "./client.ts";
import { connect } from "./connect.ts";
import { ConnectionClosedError, NotConnectedError } from "./errors.ts";

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

/** Accepts TCP and never answers a TLS handshake. */
function silentTlsServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })().catch(() => {});
  return {
    conns,
    url: `tls://127.0.0.1:${listener.addr.port}`,
    async [Symbol.asyncDispose]() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      listener.close();
      await accepting;
    },
  };
}

// Deno keeps the socket of an unfinished TLS handshake open inside the
// runtime even once the TLS connection is closed, so these tests cannot
// watch the server side see EOF; they check that every attempt ends on
// time and that nothing is left pending (the test sanitizers fail on a
// leaked handshake op or resource).

Deno.test("Client ends a TLS dial whose handshake outlives connectTimeout, and retries", async () => {
  await using server = silentTlsServer();
  using time = new FakeTime();
  const client = new Client(server.url, {
    connectTimeout: 30,
    waitForServer: true,
    keepalive: false,
    reconnect: { initial: 5, max: 5, jitter: 0 },
  });
  const opened = assert.rejects(client.opened, ConnectionClosedError);
  try {
    for (let attempt = 1; attempt <= 3; attempt++) {
      // The TCP connection is up; the handshake never ends.
      await waitFor(() => server.conns.length === attempt);
      await time.tickAsync(29);
      assert.equal(
        client.state,
        "connecting",
        `attempt ${attempt} ended early`,
      );
      await time.tickAsync(1);
      await waitFor(() => client.state === "waiting", {
        message: `attempt ${attempt} to end at connectTimeout`,
      });
      await time.tickAsync(5);
    }
  } finally {
    await client.close();
  }
  await opened;
});

Deno.test("Client close cancels TLS dials stuck in their handshake, so the process can exit", async () => {
  await using server = silentTlsServer();
  const client = new URL("./client.ts", import.meta.url).href;
  const script = `
    import { Client } from ${JSON.stringify(client)};
    const client = new Client(${JSON.stringify(server.url)}, {
      connectTimeout: 30, waitForServer: true, keepalive: false,
      reconnect: { initial: 5, max: 5 },
    });
    client.opened.catch(() => {});
    await Deno.stdin.read(new Uint8Array(1)); // The test says when.
    await client.close();
    console.log("closed");
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      script,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), 10_000);
  // Close once the child has a dial stuck in its handshake after a retry.
  await waitFor(() => server.conns.length >= 2, 10_000);
  const stdin = child.stdin.getWriter();
  await stdin.write(new Uint8Array([10]));
  await stdin.close();
  const output = await child.output();
  clearTimeout(timer);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(new TextDecoder().decode(output.stdout), "closed\n", stderr);
  assert.equal(output.code, 0, "the client process did not exit");
  assert.ok(server.conns.length >= 2, `${server.conns.length} attempts`);
});
