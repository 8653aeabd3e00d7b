// A Connect client that goes away while a unary handler is still running:
// the handler's `ctx.signal` aborts and the call's session closes, on the
// server's own HTTP listener and in Deno.serve, and with
// `abortOnDisconnect: false` the handler runs on.

import assert from "node:assert/strict";
import { testServices } from "../protocol/_test_utils.ts";
import { Server } from "../server/server.ts";
import { waitFor } from "../testing/mod.ts";
import { connectGateway, type ConnectGatewayOptions } from "./connect.ts";

const { plain: Plain } = testServices();

/** How a handler's wait ended: its signal aborted, or its 1.5 s passed. */
interface Wait {
  ended?: "signal" | "timer";
}

/** Plain's Echo waits for its signal or 1.5 s; each wait is recorded. */
function start(options: ConnectGatewayOptions = {}) {
  const server = new Server({ logLevel: "error" });
  const waits: Wait[] = [];
  server.service(Plain, {
    async echo(_input, ctx) {
      const wait: Wait = {};
      waits.push(wait);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wait.ended = "timer";
          resolve();
        }, 1500);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          wait.ended ??= "signal";
          resolve();
        }, { once: true });
      });
      return { text: "done" };
    },
  });
  return { server, waits, gateway: connectGateway(server, options) };
}

/** POSTs a JSON Echo and aborts it once the handler is running. */
async function abandon(base: string, waits: readonly unknown[]) {
  const client = new AbortController();
  const answer = fetch(`${base}/nanorpc_test.Plain/Echo`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text: "slow" }),
    signal: client.signal,
  });
  await waitFor(() => waits.length === 1, {
    message: "the handler to start",
  });
  client.abort();
  await assert.rejects(answer, { name: "AbortError" });
}

const gatewaySessions = (server: Server) =>
  [...server.sessions.values()].filter((s) => s.transport === "gateway")
    .length;

/** How the handler of an abandoned call ended, with the gateway in Deno.serve. */
async function abandonInDenoServe(options: ConnectGatewayOptions = {}) {
  const t = start(options);
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    t.gateway.fetch,
  );
  try {
    await abandon(`http://127.0.0.1:${http.addr.port}`, t.waits);
    return await ended(t.waits);
  } finally {
    await http.shutdown();
    await t.server.shutdown();
  }
}

/** Waits for the first handler's wait to end; how it ended. */
async function ended(waits: readonly Wait[]) {
  await waitFor(() => waits[0].ended !== undefined, {
    timeout: 3000,
    message: "the handler to end",
  });
  return waits[0].ended;
}

Deno.test("connectGateway aborts a running unary handler's signal when the client goes away, on the server's HTTP listener", async () => {
  const t = start();
  const http = await t.server.listen({
    http: { hostname: "127.0.0.1", port: 0, fallback: t.gateway.fetch },
  });
  try {
    await abandon(http.url, t.waits);
    assert.equal(await ended(t.waits), "signal");
    await waitFor(() => gatewaySessions(t.server) === 0, {
      message: "the call's session to close",
    });
  } finally {
    await t.server.shutdown();
  }
});

Deno.test("connectGateway aborts a running unary handler's signal when the client goes away, in Deno.serve", async () => {
  assert.equal(await abandonInDenoServe(), "signal");
});

Deno.test("connectGateway with abortOnDisconnect: false lets a unary handler run on after its client went away", async () => {
  assert.equal(
    await abandonInDenoServe({ abortOnDisconnect: false }),
    "timer",
  );
});

Deno.test("connectGateway answers deadline_exceeded at once for connect-timeout-ms 0, without running the handler or leaving a session", async () => {
  const t = start();
  const http = await t.server.listen({
    http: { hostname: "127.0.0.1", port: 0, fallback: t.gateway.fetch },
  });
  try {
    const res = await fetch(`${http.url}/nanorpc_test.Plain/Echo`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-timeout-ms": "0",
      },
      body: JSON.stringify({ text: "slow" }),
    });
    assert.equal(res.status, 504);
    assert.equal((await res.json()).code, "deadline_exceeded");
    assert.equal(t.waits.length, 0, "the handler did not run");
    assert.equal(gatewaySessions(t.server), 0);
  } finally {
    await t.server.shutdown();
  }
});
