import assert from "node:assert/strict";
import { PATH_NONE } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call } from "./_call.ts";
import { windowBytes, WriteWindow } from "./_write_window.ts";

let nextId = 1;
/** A written-to-be request of `bytes` data bytes (window cost + 32). */
function request(bytes: number): Call {
  const call = new Call({
    type: RequestType.REQUEST,
    pathKind: PATH_NONE,
    pathHash: 0,
    path: undefined,
    data: new Uint8Array(bytes),
  }, "/r");
  call.id = nextId++;
  return call;
}

Deno.test("WriteWindow releases only the own bytes of a request given up on, not those written before it", () => {
  const window = new WriteWindow(200);
  const a = request(100); // 132 in the window
  const b = request(0); // 32
  assert.equal(window.fit([a, b]), 2);
  window.written([a, b]);
  const c = request(100);
  assert.equal(window.fit([c]), 0);
  assert.equal(window.held, true);
  // b timed out: a (132) may still be unread, so the window stays held.
  assert.equal(window.gaveUp(b.id), false);
  assert.equal(window.held, true);
  assert.equal(window.fit([c]), 0);
  // a's answer shows it was read (b's bytes are not counted twice).
  assert.equal(window.answered(a.id), true);
  assert.equal(window.held, false);
  assert.equal(window.fit([c, request(20)]), 2);
});

Deno.test("WriteWindow probes again when requests went out after its probe and the window is still held at the PONG", () => {
  const window = new WriteWindow(200);
  const a = request(100);
  window.written([a]);
  const b = request(100);
  assert.equal(window.fit([b]), 0);
  const probe = window.probe()!;
  assert.equal(probe.type, RequestType.PING);
  assert.equal(probe.id, 0);
  assert.equal(windowBytes(probe), 0);
  window.written([probe]);
  assert.equal(window.probe(), undefined, "one probe at a time");
  // a is answered before the PONG: b goes out, then c waits.
  assert.equal(window.answered(a.id), true);
  assert.equal(window.fit([b]), 1);
  window.written([b]);
  const c = request(100);
  assert.equal(window.fit([c]), 0);
  // The PONG shows only what came before the probe: b may be unread.
  assert.equal(window.probed(), "probe");
  assert.ok(window.probe(), "a new probe is due");
});

Deno.test("WriteWindow lets one request of any size go when nothing is outstanding, and PINGs cost nothing", () => {
  const window = new WriteWindow(100);
  const big = request(1000);
  const ping = new Call({
    type: RequestType.PING,
    pathKind: PATH_NONE,
    pathHash: 0,
    path: undefined,
    data: new Uint8Array(0),
  }, "ping");
  ping.id = nextId++;
  assert.equal(window.fit([big, request(1)]), 1);
  window.written([big]);
  assert.equal(window.fit([ping]), 1);
  assert.equal(window.answered(big.id), false, "not held: nothing resumes");
  assert.equal(window.fit([request(1), request(1)]), 2);
});
