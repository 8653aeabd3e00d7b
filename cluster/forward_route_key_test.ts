// A routeKey that throws is the application's bug: the forwarded call
// fails as a throwing handler's does, and the node goes on.

import assert from "node:assert/strict";
import { Status } from "../wasm/wire.ts";
import { REQUEST, SUBSCRIBE } from "../testing/frames.ts";
import { needsNats, startNatsServer } from "../testing/nats.ts";
import { meshed, startNode } from "./_testing.ts";

needsNats.test("NatsForwarder fails a call whose routeKey throws with INTERNAL_ERROR and a reference, and goes on", async () => {
  await using nats = await startNatsServer();
  await using far = await startNode({
    servers: nats.url,
    setup: (s) => {
      s.handle("/far", () => new TextEncoder().encode("far"));
      s.topic("/far/news");
    },
  });
  let broken = true;
  await using front = await startNode({
    servers: nats.url,
    forward: {
      routeKey: () => {
        if (broken) throw new Error("no room attribute");
        return undefined;
      },
    },
  });
  await meshed([far, front]);
  const client = await front.connect();
  const failed = await client.call({
    requestId: 1,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/far" },
  });
  assert.equal(failed.responseStatus, Status.INTERNAL_ERROR);
  assert.match(failed.responseMessage, /routeKey failed \(reference \w{8}\)/);
  // A remote SUBSCRIBE goes through the same call: refused, not a crash.
  const sub = await client.call({
    requestId: 2,
    requestType: SUBSCRIBE,
    pathOneof: { case: "path", value: "/far/news" },
  });
  assert.equal(sub.responseStatus, Status.INTERNAL_ERROR);
  broken = false;
  const ok = await client.call({
    requestId: 3,
    requestType: REQUEST,
    pathOneof: { case: "path", value: "/far" },
  });
  assert.equal(ok.responseStatus, Status.OK);
  assert.equal(new TextDecoder().decode(ok.data), "far");
});
