import assert from "node:assert/strict";
import { Server } from "./server.ts";
import { concat, frame, RawPeer } from "./_testing.ts";
import { fnv1a, RequestType } from "../wasm/wire.ts";

function req(id: number, path: string, data: number[] = []) {
  return {
    requestId: id,
    requestType: RequestType.REQUEST,
    pathOneof: { case: "pathHash" as const, value: fnv1a(path) },
    data: new Uint8Array(data),
  };
}

Deno.test("pipelined frames after an awaiting handler survive other sessions' decodes", async () => {
  const release = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  await using server = new Server({ handlerTimeout: 5000 });
  server.handle("/block", async () => {
    started.resolve();
    await release.promise;
    return new Uint8Array([0]);
  });
  server.handle("/echo", (ctx) => ctx.data);
  const { addr } = await server.listen({ port: 0 });
  const stuck = await RawPeer.connect(addr);
  const other = await RawPeer.connect(addr);
  await stuck.write(concat(
    frame(req(1, "/block")),
    ...[2, 3, 4, 5].map((i) => frame(req(i, "/echo", [i]))),
  ));
  // Wait until the block handler is running, then overwrite the table.
  await started.promise;
  await other.write(concat(
    ...[10, 11, 12, 13, 14, 15].map((i) => frame(req(i, "/echo", [i]))),
  ));
  for (let i = 10; i <= 15; i++) {
    assert.equal((await other.read()).requestId, i);
  }
  release.resolve();
  assert.equal((await stuck.read()).requestId, 1);
  for (let i = 2; i <= 5; i++) {
    const r = await stuck.read();
    assert.equal(r.requestId, i);
    assert.deepEqual(r.data, new Uint8Array([i]));
  }
  stuck.close();
  other.close();
});
