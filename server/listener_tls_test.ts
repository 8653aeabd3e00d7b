// TLS listeners: a peer that never finishes the TLS handshake is closed
// after `handshakeTimeout`; a key without a certificate is refused.

import assert from "node:assert/strict";
import { connect } from "../client/connect.ts";
import {
  certificates,
  hasOpenssl,
  silentLogger,
  waitFor,
} from "../testing/mod.ts";
import { Server } from "./server.ts";

Deno.test({
  name:
    "A TLS peer that stalls before or inside its handshake is closed after handshakeTimeout, freeing its slot",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const server = new Server({ logger: silentLogger, maxSessions: 2 });
    const reasons: string[] = [];
    server.addEventListener("sessionclose", (e) => reasons.push(e.reason));
    const peers: Deno.Conn[] = [];
    try {
      const { ca, cert, key } = await certificates(dir);
      server.handle("/echo", (ctx) => ctx.data);
      const { addr } = await server.listen({
        port: 0,
        cert,
        key,
        handshakeTimeout: 200,
      });
      const port = (addr as Deno.NetAddr).port;
      // One says nothing; the other sends half a TLS record header.
      peers.push(await Deno.connect({ port }));
      peers.push(await Deno.connect({ port }));
      await peers[1].write(new Uint8Array([0x16, 0x03, 0x01]));
      await waitFor(() => server.stats().sessions === 2);
      // (Deno 2.9 keeps the OS socket of an unfinished handshake until the
      // peer sends or leaves; the session and its slot go now.)
      await waitFor(() => server.stats().sessions === 0, {
        message: "the stalled handshakes to be closed",
      });
      assert.deepEqual(reasons, [
        "read failed: no TLS handshake within 200 ms",
        "read failed: no TLS handshake within 200 ms",
      ]);
      // The slots are free again for a peer that does handshake.
      await using client = await connect(`tls://localhost:${port}`, {
        caCerts: [ca],
        keepalive: false,
      });
      const data = new Uint8Array([1, 2, 3]);
      assert.deepEqual((await client.request("/echo", data)).data, data);
    } finally {
      for (const peer of peers) peer.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "A TLS listen with a key but no cert is refused, not served in plain",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    const server = new Server({ logger: silentLogger });
    try {
      const { key } = await certificates(dir);
      await assert.rejects(
        server.listen({ port: 0, key } as Parameters<Server["listen"]>[0]),
        TypeError,
      );
      assert.equal(server.listeners.length, 0);
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
