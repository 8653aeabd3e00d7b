import assert from "node:assert/strict";
import { RawClient, REQUEST } from "../testing/mod.ts";
import { Status } from "../wasm/wire.ts";
import { measure, summarize } from "./conn_read_old_space.ts";

const gcLine = (
  gc: string,
  endObjectSize: number,
  promoted = 0,
  survived = 100,
) =>
  `[1:0x1:0]   10 ms: GC: ${
    JSON.stringify({
      gc,
      promoted,
      end_object_size: endObjectSize,
      new_space_survived: survived,
    })
  }`;

Deno.test("summarize counts full collections and old bytes young collections did not promote", () => {
  const trace = [
    "listening",
    gcLine("s", 1_100), // old 1,000: the baseline
    gcLine("s", 1_600), // +500 allocated in old space directly
    gcLine("s", 2_100, 300), // +500, but promotion explains it: not counted
    gcLine("mc", 700), // a full collection: old 600
    gcLine("s", 900), // old 800: +200 after it
    `[1:0x1:0]   11 ms: GC: {"gc":"s","prom`, // cut short by another line
  ].join("\n");
  assert.deepEqual(summarize("conn", 100, trace), {
    path: "conn",
    reads: 100,
    markCompacts: 1,
    oldBytesPerRead: 7,
  });
});

Deno.test("measure traces both ways of reading, each in a child process", async () => {
  const results = await measure(4, 50);
  assert.deepEqual(results.map((r) => r.path), ["conn", "op"]);
  for (const r of results) {
    assert.equal(r.reads, 4 * 50 * 2);
    assert.ok(r.markCompacts >= 0 && Number.isFinite(r.oldBytesPerRead));
  }
});

Deno.test("bench/serve.ts --conn-read op serves requests with its sockets reading through the op", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./serve.ts", import.meta.url).pathname,
      "--conn-read",
      "op",
      "--tcp",
      "127.0.0.1:0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port: RegExpMatchArray | null = null;
  while (!(port = text.match(/listening on tcp:\/\/127\.0\.0\.1:(\d+)/))) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`bench/serve.ts exited: ${text}`);
    text += value;
  }
  try {
    assert.match(text, /sockets read through the op under Deno\.Conn\.read/);
    using peer = await RawClient.connect({
      transport: "tcp",
      hostname: "127.0.0.1",
      port: Number(port[1]),
    });
    const echo = await peer.call({
      requestId: 1,
      requestType: REQUEST,
      pathOneof: { case: "path", value: "/echo" },
      data: new Uint8Array([4, 5, 6]),
    });
    assert.equal(echo.responseStatus, Status.OK, echo.responseMessage);
    assert.deepEqual(echo.data, new Uint8Array([4, 5, 6]));
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await lines.cancel();
  }
});
