import assert from "node:assert/strict";
import { connStream } from "./conn.ts";

Deno.test("connStream writes all of a buffer larger than the socket buffers, in order", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const server = connStream(await accepted, "tcp");
  listener.close();
  // Far past what loopback buffers hold, so the kernel takes it in parts.
  const sent = new Uint8Array(8 << 20).map((_, i) => (i * 31) >> 3);
  const writing = server.write(sent);
  const got = new Uint8Array(sent.length);
  for (let at = 0; at < got.length;) {
    const n = await client.read(got.subarray(at, at + 65536));
    if (n === null) throw new Error(`ended after ${at} bytes`);
    at += n;
  }
  await writing;
  assert.ok(got.every((b, i) => b === sent[i]), "bytes differ");
  client.close();
  server.close();
});

Deno.test("connStream write rejects, never throws, once the socket is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const server = connStream(await accepted, "tcp");
  listener.close();
  server.close();
  let written: Promise<void> | undefined;
  assert.doesNotThrow(() => written = server.write(new Uint8Array([1])));
  await assert.rejects(written!);
  client.close();
});
