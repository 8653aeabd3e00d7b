// `deno task server --http` and `deno task call ws://…` as real processes,
// and a wss:// listener reached by the command-line client through a
// private CA (Deno's WebSocket trusts what `--cert` gives it).

import assert from "node:assert/strict";
import { certificates, hasOpenssl, waitFor, within } from "../testing/mod.ts";
import { Server } from "./server.ts";

const root = new URL("../", import.meta.url);

/** Runs `deno task call` (client/main.ts) with `args`; returns its output. */
async function call(args: string[], denoFlags: string[] = []) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      ...denoFlags,
      new URL("client/main.ts", root).pathname,
      ...args,
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/**
 * Starts `deno task server --http 127.0.0.1:0 --log-level warn ...args`
 * (server/main.ts) and reads its startup lines up to the WebSocket
 * endpoint's. `stop()` ends it with SIGTERM and resolves all it printed.
 */
async function startHttpServer(args: string[] = []) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      new URL("server/main.ts", root).pathname,
      "--http",
      "127.0.0.1:0",
      "--log-level",
      "warn",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  const endpoint = await within(
    (async () => {
      for (;;) {
        const match = /WebSocket endpoint (ws:\/\/\S+)/.exec(printed);
        if (match) return match[1];
        const { value, done } = await out.read();
        if (done) throw new Error(`the server ended: ${printed}`);
        printed += value;
      }
    })(),
    { timeout: 10_000, message: "the server's startup lines" },
  );
  return {
    endpoint,
    page: endpoint.replace(/^ws/, "http").replace(/nanorpc$/, ""),
    printed: () => printed,
    async stop(): Promise<{ code: number; printed: string }> {
      child.kill("SIGTERM");
      const { code } = await child.status;
      for (let r = await out.read(); !r.done; r = await out.read()) {
        printed += r.value;
      }
      await child.stderr.cancel();
      return { code, printed };
    },
  };
}

Deno.test("deno task server --http serves the page, and deno task call ws://…/nanorpc /echo hi prints hi", async () => {
  const server = await startHttpServer();
  try {
    assert.match(server.printed(), /^listening on http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(server.printed(), /^chat page http:/m);
    assert.match(server.endpoint, /^ws:\/\/127\.0\.0\.1:\d+\/nanorpc$/);
    assert.match(await (await fetch(server.page)).text(), /nanorpc chat/);
    const result = await call([server.endpoint, "/echo", "hi"]);
    assert.equal(result.stdout, "hi\n", result.stderr);
    assert.equal(result.code, 0);
  } finally {
    const { code, printed } = await server.stop();
    assert.equal(code, 0);
    assert.match(printed, /served 1 sessions/);
  }
});

Deno.test("deno task server --http-origin lets pages of that origin and clients naming none open sockets, and refuses other pages with 403", async () => {
  const server = await startHttpServer([
    "--http-origin",
    "https://game.example",
  ]);
  try {
    const upgrade = async (origin: string) => {
      const res = await fetch(server.endpoint.replace(/^ws/, "http"), {
        headers: {
          origin,
          upgrade: "websocket",
          connection: "Upgrade",
          "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
          "sec-websocket-version": "13",
        },
      });
      const body = await res.text();
      return { status: res.status, body };
    };
    const evil = await upgrade("https://evil.example");
    assert.equal(evil.status, 403);
    assert.match(evil.body, /Origin https:\/\/evil\.example may not open/);
    const result = await call([server.endpoint, "/echo", "hi"]);
    assert.equal(result.stdout, "hi\n", result.stderr);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
  const bad = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("server/main.ts", root).pathname,
      "--http",
      "127.0.0.1:0",
      "--http-origin",
      "game.example",
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /--http-origin: origins: "game.example" is not an origin/,
  );
});

Deno.test("deno task server --http --demo echo serves no chat page, which would find no room", async () => {
  const server = await startHttpServer(["--demo", "echo"]);
  try {
    assert.doesNotMatch(server.printed(), /chat page/);
    const res = await fetch(server.page);
    await res.body?.cancel();
    assert.equal(res.status, 404);
    const result = await call([server.endpoint, "/echo", "hi"]);
    assert.equal(result.stdout, "hi\n", result.stderr);
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test({
  name:
    "server.listen({ http: { cert, key } }) serves https:// and wss://, which deno task call reaches with --cert",
  ignore: !hasOpenssl,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const { cert, key } = await certificates(dir);
      await using server = new Server({ logLevel: "error" });
      server.handle("/echo", (ctx) => ctx.data);
      const listener = await server.listen({
        http: { hostname: "127.0.0.1", port: 0, cert, key },
      });
      assert.equal(listener.transport, "https");
      const port = (listener.addr as Deno.NetAddr).port;
      const url = `wss://localhost:${port}/nanorpc`;
      const result = await call([url, "/echo", "secure"], [
        `--cert=${dir}/ca.pem`,
      ]);
      assert.equal(result.stdout, "secure\n", result.stderr);
      await waitFor(() => server.stats().sessionsOpened === 1);
      // Without the CA, the handshake fails and the client says where.
      const refused = await call([url, "/echo", "x", "--timeout", "5000"]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /wss:\/\/localhost:\d+\/nanorpc/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
