// A child process speaking NanoRPC over its stdio, and a client that
// spawns it through a dialer: the server side is `server.serve` over a
// web stream pair, the client side a `StreamDialer`.

import assert from "node:assert/strict";
import { connect } from "@nanorpc/nanorpc/client";
import { webStreamPair } from "@nanorpc/nanorpc/transport";
import { nextEvent } from "../testing/wait.ts";

const script = new URL("./server_over_stdio.ts", import.meta.url).pathname;
const read = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("server_over_stdio serves a client that spawned it, and the client spawns another when it dies", async () => {
  const children: Deno.ChildProcess[] = [];
  const client = await connect(() => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    children.push(child);
    return webStreamPair(
      { readable: child.stdout, writable: child.stdin },
      { remoteAddr: { transport: "stdio", path: script } },
    );
  }, { keepalive: false, reconnect: { initial: 1, max: 50 } });
  const big = new Uint8Array(200_000).map((_, i) => i % 251);
  assert.deepEqual((await client.request("/echo", big)).data, big);
  const first = read((await client.request("/pid")).data);
  assert.equal(first, String(children[0].pid));

  const back = nextEvent(client, "reconnect", { timeout: 10_000 });
  children[0].kill("SIGKILL");
  await back;
  const second = read((await client.request("/pid")).data);
  assert.equal(second, String(children[1].pid));
  assert.notEqual(second, first);

  await client.close();
  // Closing the stream ends the child's stdin: its session and process end.
  const statuses = await Promise.all(children.map((c) => c.status));
  assert.deepEqual(statuses.map((s) => s.signal), ["SIGKILL", null]);
  assert.equal(statuses[1].code, 0);
});
