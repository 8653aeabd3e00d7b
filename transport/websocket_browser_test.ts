import assert from "node:assert/strict";
import { browserSkipReason, launchChromium } from "../testing/browser.ts";
import { waitFor } from "../testing/wait.ts";
import { websocketStream } from "./websocket.ts";

/** Bundles `openWebSocket` for browsers, as the browser client will be. */
async function bundle(): Promise<string> {
  const entry = new URL("./open_websocket.ts", import.meta.url);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "browser", entry.pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>ws</title>
<script type="module">
import { openWebSocket } from "/open_websocket.js";
window.run = async (url) => {
  const stream = await openWebSocket(url, { timeout: 5000 });
  const sent = new Uint8Array(100000).map((_, i) => i % 251);
  // Three writes the server echoes in its own pieces.
  await stream.write(sent.subarray(0, 1));
  await stream.write(sent.subarray(1, 60000));
  await stream.write(sent.subarray(60000));
  const got = new Uint8Array(sent.length);
  for (let at = 0; at < got.length;) {
    const n = await stream.read(got.subarray(at, at + 777));
    if (n === null) throw new Error("ended early");
    at += n;
  }
  stream.close("bye");
  return {
    same: got.every((b, i) => b === sent[i]),
    transport: stream.transport,
    port: stream.remoteAddr.port,
  };
};
</script>`;

Deno.test({
  name:
    "websocketStream and openWebSocket carry bytes between Chromium and Deno.serve",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    const script = await bundle();
    const closes: string[] = [];
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req, info) => {
        const { pathname } = new URL(req.url);
        if (pathname === "/nanorpc") {
          const remoteAddr = info.remoteAddr;
          const { socket, response } = Deno.upgradeWebSocket(req);
          const stream = websocketStream(socket, { remoteAddr });
          socket.addEventListener("close", (e) => closes.push(e.reason));
          (async () => {
            const buffer = new Uint8Array(4096);
            for (let n; (n = await stream.read(buffer)) !== null;) {
              await stream.write(buffer.subarray(0, n));
            }
          })().catch(() => {});
          return response;
        }
        if (pathname === "/open_websocket.js") {
          return new Response(script, {
            headers: { "content-type": "text/javascript" },
          });
        }
        return new Response(PAGE, { headers: { "content-type": "text/html" } });
      },
    );
    const port = server.addr.port;
    await using chromium = await launchChromium();
    const page = await chromium.browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => "run" in globalThis);
    const result = await page.evaluate(
      (url) => (globalThis as unknown as { run(u: string): unknown }).run(url),
      `ws://127.0.0.1:${port}/nanorpc`,
    );
    assert.deepEqual(result, { same: true, transport: "ws", port });
    await waitFor(() => closes.length > 0, {
      timeout: 5000,
      message: "the close to arrive",
    });
    assert.deepEqual(closes, ["bye"]);
    await page.close();
  },
});
