import assert from "node:assert/strict";
import type { ForwardedCall, SessionOp } from "../server/forward.ts";
import { MalformedMessageError } from "./_bytes.ts";
import {
  decodeAnswer,
  decodeCall,
  decodeNodeMessage,
  encodeAnswer,
  encodeCall,
  encodeHeartbeat,
  encodeHeld,
  encodeOps,
  encodePush,
  encodeRelease,
  encodeUpdates,
  MessageType,
} from "./_rpc_codec.ts";

const never = () => {
  throw new Error("nothing should be skipped");
};

const call: ForwardedCall = {
  kind: "subscribe",
  pathHash: 0xbf9cf968,
  path: "/room/messages",
  requestId: -7,
  data: new Uint8Array([1, 2, 3]),
  key: 2 ** 40,
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  session: {
    node: "node-ä",
    id: 12,
    uid: "alice",
    transport: "ws",
    remoteAddr: { transport: "ws", hostname: "::1", port: 5000 },
    attributes: new Map<string, unknown>([
      ["name", "Zoë"],
      ["n", 1.5],
      ["ok", true],
      ["none", null],
      ["undef", undefined],
      ["bytes", new Uint8Array([9])],
      ["obj", { a: [1, { b: new Map([["x", 1n]]) }], d: new Date(5) }],
    ]),
  },
};

Deno.test("encodeCall and decodeCall round-trip every field, negative ids and rich attributes", () => {
  assert.deepEqual(decodeCall(encodeCall(call, never)), call);
  const bare: ForwardedCall = {
    kind: "request",
    pathHash: 1,
    requestId: 2 ** 31 - 1,
    data: new Uint8Array(),
    session: {
      node: "n",
      id: 1,
      transport: "serial",
      remoteAddr: { transport: "serial", path: "/dev/ttyS0" },
      attributes: new Map(),
    },
  };
  const back = decodeCall(encodeCall(bare, never));
  assert.deepEqual(back, {
    ...bare,
    path: undefined,
    key: undefined,
    traceparent: undefined,
    session: {
      ...bare.session,
      uid: undefined,
      remoteAddr: { transport: "serial", path: "/dev/ttyS0" },
    },
  });
});

Deno.test("encodeCall leaves out attributes that cannot travel, and says which", () => {
  const skipped: string[] = [];
  const withFn = {
    ...call,
    session: {
      ...call.session,
      attributes: new Map<string, unknown>([["f", () => 1], ["kept", "yes"]]),
    },
  };
  const back = decodeCall(encodeCall(withFn, (key) => skipped.push(key)));
  assert.deepEqual(skipped, ["f"]);
  assert.deepEqual([...back.session.attributes], [["kept", "yes"]]);
});

Deno.test("encodeAnswer and decodeAnswer round-trip every op; a set whose value cannot travel becomes a delete", () => {
  const ops: SessionOp[] = [
    { op: "set", key: "name", value: "bob" },
    { op: "delete", key: "x" },
    { op: "bind", uid: "bob" },
    { op: "unbind" },
    { op: "push", path: "/t", data: new Uint8Array([1]) },
    { op: "update", id: -3, data: new Uint8Array([2]) },
    { op: "join", group: "lobby" },
    { op: "leave", group: "lobby" },
    { op: "close", reason: "bye" },
    {
      op: "broadcast",
      group: "lobby",
      path: "/room/events",
      data: new Uint8Array([3]),
    },
  ];
  const answer = {
    status: 1,
    message: "fine",
    data: new Uint8Array([4]),
    ops,
    node: "b",
  };
  assert.deepEqual(decodeAnswer(encodeAnswer(answer, never)), answer);
  const skipped: string[] = [];
  const bad = {
    ...answer,
    message: undefined,
    ops: [{ op: "set" as const, key: "k", value: Symbol("s") }],
  };
  assert.deepEqual(
    decodeAnswer(encodeAnswer(bad, (k) => skipped.push(k))).ops,
    [{ op: "delete", key: "k" }],
  );
  assert.deepEqual(skipped, ["k"]);
});

Deno.test("decodeNodeMessage reads ops, updates, releases, pushes and heartbeats", () => {
  assert.deepEqual(decodeNodeMessage(encodeOps(5, [{ op: "unbind" }], never)), {
    type: MessageType.OPS,
    sessionId: 5,
    ops: [{ op: "unbind" }],
  });
  const d = new Uint8Array([7, 7]);
  assert.deepEqual(
    decodeNodeMessage(
      encodeUpdates({ from: "b", datas: [d], pairs: [1, 0, 2, 0] }),
    ),
    {
      type: MessageType.UPDATES,
      batch: { from: "b", datas: [d], pairs: [1, 0, 2, 0] },
    },
  );
  assert.deepEqual(decodeNodeMessage(encodeRelease("a", [1, 2 ** 40])), {
    type: MessageType.RELEASE,
    from: "a",
    keys: [1, 2 ** 40],
  });
  const many = Array.from({ length: 8192 }, (_, i) => i * 977 + 1);
  assert.deepEqual(decodeNodeMessage(encodeHeld("b", many)), {
    type: MessageType.HELD,
    from: "b",
    keys: many,
  });
  assert.deepEqual(decodeNodeMessage(encodePush("a", 3, "/t", d)), {
    type: MessageType.PUSH,
    from: "a",
    sessionId: 3,
    path: "/t",
    data: d,
  });
  const h = {
    node: "a",
    leaving: false,
    requests: [0xffffffff, 1],
    topics: [2],
    timeouts: [1, 5000, 0xffffffff, 0],
    readsHeld: true,
    readsBroadcasts: true,
  };
  assert.deepEqual(decodeNodeMessage(encodeHeartbeat(h)), {
    type: MessageType.HEARTBEAT,
    heartbeat: h,
  });
  // An older node's heartbeat ends after its topics: no timeouts, and its
  // flags say nothing of reading HELD or broadcast ops.
  const { timeouts: _, readsHeld: __, readsBroadcasts: ___, ...old } = h;
  const bytes = encodeHeartbeat(old);
  assert.deepEqual(decodeNodeMessage(bytes.subarray(0, bytes.length - 1)), {
    type: MessageType.HEARTBEAT,
    heartbeat: old,
  });
});

Deno.test("decodeCall and decodeNodeMessage reject truncated, foreign-version and out-of-range messages", () => {
  const bytes = encodeCall(call, never);
  for (let cut = 0; cut < bytes.length - call.data.length; cut++) {
    assert.throws(
      () => decodeCall(bytes.subarray(0, cut)),
      MalformedMessageError,
      `cut at ${cut}`,
    );
  }
  const future = bytes.slice();
  future[0] = 99;
  assert.throws(() => decodeCall(future), /version 99 is unknown/);
  const updates = encodeUpdates({
    from: "b",
    datas: [new Uint8Array([1])],
    pairs: [1, 0],
  });
  updates[updates.length - 1] = 5; // data index past the data
  assert.throws(() => decodeNodeMessage(updates), /data index out of range/);
  assert.throws(
    () => decodeNodeMessage(new Uint8Array([1, 42])),
    /unknown message type 42/,
  );
});
