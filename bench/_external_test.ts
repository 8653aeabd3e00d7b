import assert from "node:assert/strict";
import { externalTarget, parseTarget } from "./_external.ts";
import { startTarget, TARGETS } from "./_harness.ts";

Deno.test("parseTarget reads a TCP address with and without a pid", () => {
  assert.deepEqual(parseTarget("go=tcp://127.0.0.1:9000"), {
    name: "go",
    address: { transport: "tcp", hostname: "127.0.0.1", port: 9000 },
    url: "tcp://127.0.0.1:9000",
    pid: undefined,
  });
  assert.deepEqual(parseTarget("old-build=tcp://[::1]:7411?pid=1234"), {
    name: "old-build",
    address: { transport: "tcp", hostname: "::1", port: 7411 },
    url: "tcp://[::1]:7411",
    pid: 1234,
  });
});

Deno.test("parseTarget reads a UNIX socket path with and without a pid", () => {
  assert.deepEqual(parseTarget("u=unix:///tmp/nano%20rpc.sock?pid=7"), {
    name: "u",
    address: { transport: "unix", path: "/tmp/nano rpc.sock" },
    url: "unix:///tmp/nano rpc.sock",
    pid: 7,
  });
  assert.equal(
    parseTarget("u=unix:///run/x.sock").address.transport,
    "unix",
  );
});

Deno.test("parseTarget rejects what it cannot measure, saying the syntax", () => {
  for (
    const bad of [
      "tcp://127.0.0.1:9000", // no name
      "=tcp://127.0.0.1:9000",
      "a b=tcp://127.0.0.1:9000",
      "go=127.0.0.1:9000", // no scheme
      "go=tcp://127.0.0.1", // no port
      "go=tcp://127.0.0.1:9000/x",
      "go=http://127.0.0.1:9000",
      "go=tcp://127.0.0.1:9000?pid=0",
      "go=tcp://127.0.0.1:9000?pid=abc",
      "go=tcp://127.0.0.1:9000?cpu=1",
      "go=unix://relative.sock",
    ]
  ) {
    assert.throws(() => parseTarget(bad), /--target wants NAME=/, bad);
  }
});

Deno.test("externalTarget says to start the server when nothing listens", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    externalTarget(parseTarget(`gone=tcp://127.0.0.1:${port}`)),
    /cannot connect .* is the server running\?/,
  );
});

Deno.test("externalTarget refuses a server whose /echo does not answer OK", async () => {
  // raw-echo sends each request back: PING passes for PONG, /echo does not.
  const spec = TARGETS.find((t) => t.name === "raw-echo")!;
  const raw = await startTarget(spec);
  try {
    await assert.rejects(
      externalTarget(parseTarget(`raw=tcp://127.0.0.1:${raw.port}`)),
      /--target raw .* answered \/echo with STATUS_-?\d+;/,
    );
  } finally {
    await raw.stop();
  }
});
