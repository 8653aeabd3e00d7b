// The browser client of the working tree (bundled as `deno task
// build:browser` does, not the committed bundle) in headless Chromium,
// against a real server's HTTP listener.

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Server } from "../server/mod.ts";
import { browserSkipReason, launchChromium } from "../testing/browser.ts";
import { bundleBrowserClient } from "./build_browser.ts";

/**
 * What page functions see of the browser's globals (this file is checked
 * without the DOM library; Playwright runs these functions in the page).
 */
// deno-lint-ignore no-explicit-any
type PageGlobals = any;

const PAGE = `<!doctype html><meta charset="utf-8"><title>nanorpc</title>
<script type="module">
import * as nanorpc from "/client.js";
window.nanorpc = nanorpc;
</script>`;

/** A server with `/echo` serving the page and the fresh bundle over HTTP. */
async function startServer() {
  const bundle = await bundleBrowserClient();
  const server = new Server({ logLevel: "error" });
  server.handle("/echo", (ctx) => ctx.copyData());
  const headers = (type: string) => ({ headers: { "content-type": type } });
  const { addr } = await server.listen({
    http: {
      port: 0,
      routes: {
        "/page.html": () => new Response(PAGE, headers("text/html")),
        "/client.js": () => new Response(bundle, headers("text/javascript")),
      },
    },
  });
  return { server, port: (addr as Deno.NetAddr).port };
}

async function openPage(page: Page, port: number): Promise<void> {
  await page.goto(`http://127.0.0.1:${port}/page.html`);
  await page.waitForFunction(() => {
    const g: PageGlobals = globalThis;
    return g.nanorpc !== undefined;
  });
}

Deno.test({
  name:
    "browser client sends a burst of large requests without the server closing its WebSocket for unread bytes",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    const { server, port } = await startServer();
    await using _ = server;
    await using chromium = await launchChromium();
    const page = await chromium.browser.newPage();
    await openPage(page, port);
    const result = await page.evaluate(async (port) => {
      const g: PageGlobals = globalThis;
      const client = await g.nanorpc.connect(`ws://127.0.0.1:${port}/nanorpc`);
      const lost: string[] = [];
      client.addEventListener(
        "disconnect",
        (event: PageGlobals) => lost.push(event.error?.message),
      );
      // 20 MiB in one turn: ten times what the server keeps unread.
      const data = new Uint8Array(512 * 1024).map((_, i) => i % 251);
      const answers = await Promise.allSettled(
        Array.from({ length: 40 }, () => client.request("/echo", data)),
      );
      const failures = answers.flatMap((answer: PageGlobals) =>
        answer.status === "rejected" ? [String(answer.reason)] : []
      );
      const last = (answers[39] as PageGlobals).value?.data;
      const same = last?.length === data.length &&
        last.every((b: number, i: number) => b === data[i]);
      const outcome = {
        failures: [...new Set(failures)],
        lost: [...lost],
        same,
        state: client.state,
      };
      await client.close();
      return outcome;
    }, port);
    assert.deepEqual(result, {
      failures: [],
      lost: [],
      same: true,
      state: "open",
    });
  },
});
