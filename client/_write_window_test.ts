import assert from "node:assert/strict";
import { MESSAGE_COST } from "../transport/websocket.ts";
import { PATH_NONE } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call, type OutFrame } from "./_call.ts";
import { windowBytes, WriteWindow } from "./_write_window.ts";

let nextId = 1;
/** A request of `bytes` data bytes (it costs 32 more in the window). */
function request(bytes: number, type: number = RequestType.REQUEST): Call {
  const call = new Call({
    type,
    pathKind: PATH_NONE,
    pathHash: 0,
    path: undefined,
    data: new Uint8Array(bytes),
  }, "/r");
  call.id = nextId++;
  return call;
}

Deno.test("WriteWindow counts each write's message cost, and lets one request of any size go when nothing is outstanding", () => {
  const window = new WriteWindow(1000);
  const big = request(5000);
  assert.equal(window.fit([big, request(1)]), 1);
  assert.equal(window.held, true);
  window.written([big]);
  assert.equal(window.answered(big.id), true);
  // 256 for the message, 432 and 332 for the requests: 1020 > 1000.
  const [a, b] = [request(400), request(300)];
  assert.equal(MESSAGE_COST, 256);
  assert.equal(window.fit([a, b]), 1);
});

Deno.test("WriteWindow keeps a request given up on until something written after it is answered, and a probe's PONG shows it read", () => {
  const window = new WriteWindow(1000);
  const a = request(300); // 332
  const b = request(0); // 32
  assert.equal(window.fit([a, b]), 2);
  window.written([a, b]); // 620 with the message
  const c = request(600); // 632
  assert.equal(window.fit([c]), 0);
  window.gaveUp(b.id); // b may still be unread: nothing changes
  assert.equal(window.fit([c]), 0);
  assert.equal(window.answered(a.id), true); // down to 288: half or less
  assert.equal(window.fit([c]), 0, "b's bytes and c's do not fit");
  assert.equal(window.probeDue, true);
  const probe = window.probe()!;
  assert.equal(probe.id, 0);
  assert.equal(probe.type, RequestType.PING);
  assert.equal(windowBytes(probe), 0);
  assert.equal(window.probeDue, false);
  window.written([probe]);
  assert.equal(window.probed(), "resume");
  assert.equal(window.fit([c]), 1);
});

Deno.test("WriteWindow probes again when requests went out after its probe, and a probe an answer passed is not waited for", () => {
  const window = new WriteWindow(1000);
  const a = request(300); // 332 + 256 for its message: ends at 588
  window.written([a]);
  const b = request(300);
  assert.equal(window.fit([b]), 0);
  window.written([window.probe()!]); // ends at 844
  // a's answer makes room before the PONG: b goes out after the probe.
  assert.equal(window.answered(a.id), true);
  assert.equal(window.fit([b]), 1);
  window.written([b]); // ends at 1432
  assert.equal(window.fit([request(300)]), 0);
  // The PONG shows only what came before the probe: b may be unread.
  assert.equal(window.probed(), "probe");
  assert.equal(window.probeDue, true);
  window.written([window.probe()!]); // ends at 1688; its PONG never comes
  assert.equal(window.answered(b.id), true);
  const c = request(300);
  assert.equal(window.fit([c]), 1);
  window.written([c]); // ends at 2276, past the probe
  window.answered(c.id);
  // An answer passed the lost probe: the next hold may probe again.
  assert.equal(window.fit([request(900), request(900)]), 1);
  assert.equal(window.probeDue, true);
});

Deno.test("WriteWindow counts subscribes and their acks, and PINGs cost nothing", () => {
  const window = new WriteWindow(1000);
  const subscribe: OutFrame = {
    id: nextId++,
    type: RequestType.SUBSCRIBE,
    pathKind: PATH_NONE,
    pathHash: 0,
    path: undefined,
    data: new Uint8Array(600),
  };
  const ping = request(0, RequestType.PING);
  assert.equal(windowBytes(subscribe), 632);
  assert.equal(windowBytes(ping), 0);
  window.written([subscribe]);
  assert.equal(window.fit([ping, request(300)]), 1);
  assert.equal(window.answered(subscribe.id), true);
  assert.equal(window.fit([request(300)]), 1);
});
