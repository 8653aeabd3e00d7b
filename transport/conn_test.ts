import assert from "node:assert/strict";
import { connStream } from "./conn.ts";
import { WRITE_SOME, writesSome } from "./_write_some.ts";

/** Both ends of a loopback TCP connection; the listener is closed. */
async function tcpPair(): Promise<{ client: Deno.Conn; accepted: Deno.Conn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = listener.accept();
  const client = await Deno.connect({
    hostname: "127.0.0.1",
    port: (listener.addr as Deno.NetAddr).port,
  });
  const accepted = await accepting;
  listener.close();
  return { client, accepted };
}

Deno.test("connStream writes all of a buffer larger than the socket buffers, in order", async () => {
  const { client, accepted } = await tcpPair();
  const server = connStream(accepted, "tcp");
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
  const { client, accepted } = await tcpPair();
  const server = connStream(accepted, "tcp");
  server.close();
  let written: Promise<void> | undefined;
  assert.doesNotThrow(() => written = server.write(new Uint8Array([1])));
  await assert.rejects(written!);
  client.close();
});

Deno.test("connStream has the write-some fast path and says how many bytes it wrote", async () => {
  const { client, accepted } = await tcpPair();
  const stream = connStream(accepted, "tcp");
  try {
    assert.ok(writesSome(stream));
    const bytes = new Uint8Array([1, 2, 3, 4]);
    assert.equal(await stream[WRITE_SOME](bytes), 4);
    const got = new Uint8Array(4);
    for (let at = 0; at < 4;) at += (await client.read(got.subarray(at)))!;
    assert.deepEqual(got, bytes);
  } finally {
    stream.close();
    client.close();
  }
});

/** Whether the kernel runs a keepalive timer for the socket bound to `port`. */
function keepaliveTimer(local: Deno.NetAddr, remote: Deno.NetAddr): boolean {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");
  const row = Deno.readTextFileSync("/proc/net/tcp").split("\n")
    .map((line) => line.trim().split(/\s+/))
    .find((f) =>
      f[1]?.endsWith(`:${hex(local.port)}`) &&
      f[2]?.endsWith(`:${hex(remote.port)}`)
    );
  if (!row) throw new Error(`no socket ${local.port} -> ${remote.port}`);
  return row[5].startsWith("02:"); // timer_active 2: keepalive
}

Deno.test({
  name:
    "connStream turns on TCP keepalive, so a peer gone without a word is found out",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const { client, accepted } = await tcpPair();
    const stream = connStream(accepted, "tcp");
    try {
      assert.ok(
        keepaliveTimer(
          accepted.localAddr as Deno.NetAddr,
          accepted.remoteAddr as Deno.NetAddr,
        ),
      );
      // The other end, not given to connStream, has none.
      assert.ok(
        !keepaliveTimer(
          client.localAddr as Deno.NetAddr,
          client.remoteAddr as Deno.NetAddr,
        ),
      );
    } finally {
      stream.close();
      client.close();
    }
  },
});
