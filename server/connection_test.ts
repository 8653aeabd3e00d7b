// The connection loop keeps its own cursor over each decode: frames read
// together stay valid while a handler awaits and other sessions decode.

import assert from "node:assert/strict";
import {
  concat,
  Gate,
  REQUEST,
  requestFrame,
  startServer,
} from "../testing/mod.ts";
import { fnv1a } from "../wasm/wire.ts";

function req(id: number, path: string, data: number[] = []) {
  return requestFrame({
    requestId: id,
    requestType: REQUEST,
    pathOneof: { case: "pathHash", value: fnv1a(path) },
    data: new Uint8Array(data),
  });
}

Deno.test("Server keeps a session's pipelined frames after an awaiting handler while other sessions decode", async () => {
  const release = new Gate();
  const started = new Gate();
  await using t = await startServer((server) => {
    server.handle("/block", async () => {
      started.open();
      await release.opened;
      return new Uint8Array([0]);
    });
    server.handle("/echo", (ctx) => ctx.data);
  }, { handlerTimeout: 5000 });
  const stuck = await t.connectRaw();
  const other = await t.connectRaw();
  await stuck.write(concat(
    req(1, "/block"),
    ...[2, 3, 4, 5].map((i) => req(i, "/echo", [i])),
  ));
  // While the block handler runs, another session's decode reuses the
  // shared table.
  await started.opened;
  await other.write(
    concat(...[10, 11, 12, 13, 14, 15].map((i) => req(i, "/echo", [i]))),
  );
  for (let i = 10; i <= 15; i++) {
    assert.equal((await other.read()).requestId, i);
  }
  release.open();
  assert.equal((await stuck.read()).requestId, 1);
  for (let i = 2; i <= 5; i++) {
    const r = await stuck.read();
    assert.equal(r.requestId, i);
    assert.deepEqual(r.data, new Uint8Array([i]));
  }
});
