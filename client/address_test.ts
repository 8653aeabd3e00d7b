import assert from "node:assert/strict";
import { formatAddress, parseAddress, toAddress } from "./address.ts";

Deno.test("parseAddress reads tcp, tls and unix addresses", () => {
  assert.deepEqual(parseAddress("tcp://127.0.0.1:7411"), {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 7411,
  });
  assert.deepEqual(parseAddress("tls://example.com:443"), {
    transport: "tls",
    hostname: "example.com",
    port: 443,
  });
  assert.deepEqual(parseAddress("tcp://[::1]:80"), {
    transport: "tcp",
    hostname: "::1",
    port: 80,
  });
  assert.deepEqual(parseAddress("unix:///tmp/x.sock"), {
    transport: "unix",
    path: "/tmp/x.sock",
  });
  assert.deepEqual(parseAddress("unix:rel/x.sock"), {
    transport: "unix",
    path: "rel/x.sock",
  });
});

Deno.test("parseAddress takes a bare host:port as TCP", () => {
  assert.deepEqual(parseAddress("localhost:7411"), {
    transport: "tcp",
    hostname: "localhost",
    port: 7411,
  });
  assert.deepEqual(parseAddress("10.0.0.1:1"), {
    transport: "tcp",
    hostname: "10.0.0.1",
    port: 1,
  });
});

Deno.test("parseAddress rejects unknown schemes, missing and bad ports", () => {
  for (
    const bad of [
      "http://x:1",
      "tcp://x",
      "tcp://x:0",
      "tcp://x:65536",
      "unix://",
      "",
    ]
  ) {
    assert.throws(() => parseAddress(bad), TypeError, bad);
  }
});

Deno.test("parseAddress reads ws and wss URLs whole, path and query included", () => {
  assert.deepEqual(parseAddress("ws://127.0.0.1:8080/nanorpc"), {
    transport: "ws",
    url: "ws://127.0.0.1:8080/nanorpc",
  });
  assert.deepEqual(parseAddress("WSS://example.com/rpc?room=1"), {
    transport: "wss",
    url: "wss://example.com/rpc?room=1",
  });
  assert.deepEqual(parseAddress("ws://[::1]:9/nanorpc"), {
    transport: "ws",
    url: "ws://[::1]:9/nanorpc",
  });
});

Deno.test("parseAddress rejects WebSocket URLs without a host or with a fragment", () => {
  for (const bad of ["ws://", "ws://:8080/x", "ws://h:1/nanorpc#x"]) {
    assert.throws(() => parseAddress(bad), /ws:\/\/127\.0\.0\.1:8080/, bad);
  }
});

Deno.test("formatAddress round-trips parseAddress", () => {
  for (
    const text of [
      "tcp://127.0.0.1:7411",
      "tls://[::1]:9",
      "unix:///a/b.sock",
      "ws://127.0.0.1:8080/nanorpc",
      "serial:///dev/ttyUSB0?baud=9600",
    ]
  ) {
    assert.equal(formatAddress(parseAddress(text)), text);
  }
});

Deno.test("parseAddress reads serial lines with an optional baud rate", () => {
  assert.deepEqual(parseAddress("serial:///dev/ttyUSB0?baud=9600"), {
    transport: "serial",
    path: "/dev/ttyUSB0",
    baud: 9600,
  });
  assert.deepEqual(parseAddress("serial:/dev/tty%20A"), {
    transport: "serial",
    path: "/dev/tty A",
    baud: 115200,
  });
  for (
    const bad of ["serial://", "serial:///dev/x?baud=0", "serial:///x?speed=1"]
  ) {
    assert.throws(() => parseAddress(bad), /serial:\/\/\/dev\/ttyUSB0/, bad);
  }
  // A rate no line can have fails here, not at every dial.
  assert.throws(
    () => parseAddress("serial:///dev/ttyUSB0?baud=12345"),
    /baud rate 12345 is not one a serial line can have; use one of 50, /,
  );
});

Deno.test("toAddress turns a dialer into a stream address and parses text", () => {
  const dial = () => Promise.reject(new Error("unused"));
  assert.deepEqual(toAddress(dial), { transport: "stream", dial });
  assert.equal(formatAddress(toAddress(dial)), "stream");
  assert.equal(
    formatAddress({ transport: "stream", dial, name: "child process" }),
    "child process",
  );
  assert.deepEqual(toAddress("unix:///s"), { transport: "unix", path: "/s" });
});
