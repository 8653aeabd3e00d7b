// The wire rules (README, "Protocol"), checked over real TCP and UNIX sockets with
// frames written by protobuf-es (not by our codec).

import assert from "node:assert/strict";
import {
  concat,
  type RawClient,
  requestFrame,
  startServer,
  type TestTransport,
  waitFor,
} from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import type { Server } from "./server.ts";
import { fnv1a, RequestType, ResponseType, Status } from "../wasm/wire.ts";

const { PING, REQUEST } = RequestType;

/** Runs `fn` against the demo server (plus a failing /fail) on each transport. */
async function withServer(
  fn: (peer: () => Promise<RawClient>, server: Server) => Promise<void>,
  transports: TestTransport[] = ["tcp", "unix"],
): Promise<void> {
  for (const transport of transports) {
    await using t = await startServer((server) => {
      registerDemo(server);
      server.handle("/fail", () => {
        throw new Error("kaboom");
      });
    }, { transports: [transport] });
    await fn(() => t.connectRaw(), t.server);
  }
}

const echo = (requestId: number, data: Uint8Array) => ({
  requestId,
  requestType: REQUEST,
  pathOneof: { case: "path" as const, value: "/echo" },
  data,
});

Deno.test("Server answers PING with PONG carrying the same request id", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    for (const id of [0, 1, 2147483647, -1, -2147483648]) {
      const r = await p.call({ requestId: id, requestType: PING });
      assert.equal(r.requestId, id);
      assert.equal(r.responseType, ResponseType.PONG);
      assert.equal(r.responseStatus, Status.OK);
    }
  });
});

Deno.test("Server echoes data by path and by path hash", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const data = new TextEncoder().encode("hello");
    const byPath = await p.call(echo(5, data));
    assert.deepEqual([byPath.responseType, byPath.responseStatus], [
      ResponseType.RESPONSE,
      Status.OK,
    ]);
    assert.deepEqual(byPath.data, data);
    const byHash = await p.call({
      requestId: 6,
      requestType: REQUEST,
      pathOneof: { case: "pathHash", value: fnv1a("/echo") },
      data,
    });
    assert.equal(byHash.responseStatus, Status.OK);
    assert.deepEqual(byHash.data, data);
    const empty = await p.call(echo(7, new Uint8Array()));
    assert.equal(empty.data.length, 0);
  });
});

Deno.test("Server round-trips a negative request id sent as a 10-byte varint", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const raw = requestFrame(echo(-42, new Uint8Array([1])));
    assert.equal(raw[2], 0xd6); // the id varint starts right after the tag
    const r = await p.call(echo(-42, new Uint8Array([1])));
    assert.equal(r.requestId, -42);
  });
});

Deno.test("Server answers unknown paths and hashes with NOT_FOUND and a message", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const byPath = await p.call({
      requestId: 1,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/nope" },
    });
    assert.equal(byPath.responseStatus, Status.NOT_FOUND);
    assert.match(byPath.responseMessage, /\/nope/);
    // A leading U+FEFF is part of the path as sent, not a byte-order mark.
    const marked = await p.call({
      requestId: 4,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "\uFEFF/nope" },
    });
    assert.equal(marked.responseStatus, Status.NOT_FOUND);
    assert.equal(marked.responseMessage, "No handler for path \uFEFF/nope");
    const byHash = await p.call({
      requestId: 2,
      requestType: REQUEST,
      pathOneof: { case: "pathHash", value: 0xdeadbeef },
    });
    assert.equal(byHash.responseStatus, Status.NOT_FOUND);
    assert.match(byHash.responseMessage, /0xdeadbeef/);
    const none = await p.call({ requestId: 3, requestType: REQUEST });
    assert.equal(none.responseStatus, Status.NOT_FOUND);
    assert.equal(
      none.responseMessage,
      "No handler: the request has no path or path_hash",
    );
  });
});

Deno.test("Server answers a throwing handler with INTERNAL_ERROR and goes on", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const r = await p.call({
      requestId: 9,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/fail" },
    });
    assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
    assert.match(r.responseMessage, /\/fail failed \(reference \w{8}\)/);
    assert.ok(!r.responseMessage.includes("kaboom"));
    assert.equal(
      (await p.call({ requestId: 10, requestType: PING })).requestId,
      10,
    );
  });
});

Deno.test("Server skips unknown fields of wire types 0, 1, 2 and 5", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const unknown = new Uint8Array([
      0x28,
      0x96,
      0x01, // field 5, varint 150
      0x31,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 6, fixed64
      0x3a,
      0x02,
      0xaa,
      0xbb, // field 7, length-delimited
      0x45,
      1,
      2,
      3,
      4, // field 8, fixed32
      0xf8,
      0xff,
      0xff,
      0xff,
      0x0f,
      0x01, // field 536870911, varint 1
    ]);
    const body = concat(
      new Uint8Array([0x08, 0x0b, 0x10, 0x02]),
      unknown,
      new Uint8Array([0x22, 5]),
      new TextEncoder().encode("/echo"),
      new Uint8Array([0x52, 1, 0x77]),
    );
    await p.write(concat(new Uint8Array([body.length]), body));
    const r = await p.read();
    assert.deepEqual([r.requestId, r.responseStatus], [11, Status.OK]);
    assert.deepEqual(r.data, new Uint8Array([0x77]));
  });
});

Deno.test("Server takes the last value of repeated fields and of the path oneof", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const path = (s: string) =>
      concat(new Uint8Array([0x22, s.length]), new TextEncoder().encode(s));
    const hash = (h: number) => {
      const out = [0x18];
      for (let v = h;; v = Math.floor(v / 128)) {
        if (v < 128) {
          out.push(v);
          break;
        }
        out.push((v % 128) | 0x80);
      }
      return new Uint8Array(out);
    };
    const cases: [Uint8Array, number][] = [
      // id 1 then id 12; path /nope then /echo
      [
        concat(
          new Uint8Array([0x08, 1, 0x10, 2, 0x08, 12]),
          path("/nope"),
          path("/echo"),
        ),
        Status.OK,
      ],
      // path /echo, then path_hash of /nope: the hash wins
      [
        concat(
          new Uint8Array([0x08, 12, 0x10, 2]),
          path("/echo"),
          hash(fnv1a("/nope")),
        ),
        Status.NOT_FOUND,
      ],
      // path_hash of /nope, then path /echo: the path wins
      [
        concat(
          new Uint8Array([0x08, 12, 0x10, 2]),
          hash(fnv1a("/nope")),
          path("/echo"),
        ),
        Status.OK,
      ],
      // type PING first, then REQUEST wins
      [
        concat(new Uint8Array([0x08, 12, 0x10, 1, 0x10, 2]), path("/nope")),
        Status.NOT_FOUND,
      ],
    ];
    for (const [body, status] of cases) {
      await p.write(concat(new Uint8Array([body.length]), body));
      const r = await p.read();
      assert.equal(r.requestId, 12);
      assert.equal(r.responseStatus, status);
    }
  });
});

Deno.test("Server answers 1,000 requests pipelined in one write, in order", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const frames = Array.from(
      { length: 1000 },
      (_, i) => requestFrame(echo(i + 1, new TextEncoder().encode(`m${i}`))),
    );
    await p.write(concat(...frames));
    for (let i = 0; i < 1000; i++) {
      const r = await p.read();
      assert.equal(r.requestId, i + 1);
      assert.equal(new TextDecoder().decode(r.data), `m${i}`);
    }
  });
});

Deno.test("Server decodes requests written one byte at a time", async () => {
  await withServer(async (peer, server) => {
    const p = await peer();
    const bytes = concat(
      requestFrame(echo(1, new Uint8Array([1, 2, 3]))),
      requestFrame({ requestId: 2, requestType: PING }),
    );
    for (const [i, b] of bytes.entries()) {
      await p.write(new Uint8Array([b]));
      // Read on its own before the next byte goes out.
      await waitFor(() => server.stats().bytesIn === i + 1, {
        message: `byte ${i + 1} to be read`,
      });
    }
    assert.deepEqual((await p.read()).data, new Uint8Array([1, 2, 3]));
    assert.equal((await p.read()).requestId, 2);
  });
});

Deno.test("Server serves a frame of maxMessageSize and refuses one byte more", async () => {
  await withServer(async (peer, server) => {
    const p = await peer();
    const data = new Uint8Array(1024 * 1024 - 16).fill(7);
    const big = requestFrame(echo(1, data));
    assert.ok(big.length - 3 <= 1024 * 1024);
    const r = await p.call(echo(1, data));
    assert.equal(r.data.length, data.length);
    assert.equal(r.data[r.data.length - 1], 7);
    const over = await peer();
    await over.write(new Uint8Array([0x81, 0x80, 0x40])); // 1 MiB + 1
    assert.ok(await over.closedByServer());
    assert.equal(
      (await p.call({ requestId: 2, requestType: PING })).requestId,
      2,
    );
    assert.ok(server.stats().malformedCloses >= 1);
  });
});

Deno.test("Server closes only the connection that sent a malformed frame", async () => {
  const hostile: [string, Uint8Array][] = [
    [
      "varint longer than 10 bytes",
      new Uint8Array([
        3,
        0x08,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0x01,
      ]),
    ],
    ["prefix longer than 10 bytes", new Uint8Array(11).fill(0xff)],
    ["field past the frame end", new Uint8Array([4, 0x52, 0x10, 1, 2])],
    ["wire type 3", new Uint8Array([1, 0x0b])],
    ["wire type 7", new Uint8Array([1, 0x0f])],
    ["field number 0", new Uint8Array([2, 0x00, 0x01])],
    ["invalid UTF-8 path", new Uint8Array([4, 0x22, 2, 0xc0, 0xaf])],
    ["1 GiB claim", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x04])],
    ["4 GiB claim", new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x10])],
  ];
  await withServer(async (peer, server) => {
    const good = await peer();
    for (const [name, bytes] of hostile) {
      const bad = await peer();
      await bad.write(
        concat(requestFrame({ requestId: 1, requestType: PING }), bytes),
      );
      const pong = await bad.read();
      assert.equal(pong.requestId, 1, `${name}: the frame before is answered`);
      assert.ok(await bad.closedByServer(), `${name}: connection closed`);
      const r = await good.call({ requestId: 5, requestType: PING });
      assert.equal(r.requestId, 5, `${name}: other sessions go on`);
    }
    assert.equal(server.stats().malformedCloses, hostile.length);
  });
});

Deno.test("Server answers an unsupported request type with INTERNAL_ERROR", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const r = await p.call({ requestId: 4, requestType: 0 });
    assert.equal(r.responseStatus, Status.INTERNAL_ERROR);
    assert.match(r.responseMessage, /request type 0/);
  }, ["tcp"]);
});

Deno.test("Server cuts a long unknown path short in the NOT_FOUND message", async () => {
  await withServer(async (peer) => {
    const p = await peer();
    const r = await p.call({
      requestId: 1,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/" + "x".repeat(10_000) },
    });
    assert.equal(r.responseStatus, Status.NOT_FOUND);
    assert.ok(
      r.responseMessage.length < 300,
      `${r.responseMessage.length} characters`,
    );
    assert.ok(r.responseMessage.endsWith("…"));
  }, ["tcp"]);
});
