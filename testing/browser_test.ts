import assert from "node:assert/strict";
import { browserSkipReason, launchChromium } from "./browser.ts";

Deno.test({
  name: "launchChromium opens a localhost page and evaluates script in it",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    const html = `<!doctype html><title>kit</title><p id="x">hello</p>
<script type="module">window.sum = (await import("/add.js")).add(2, 3);</script>`;
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => {
        const { pathname } = new URL(req.url);
        if (pathname === "/add.js") {
          return new Response("export const add = (a, b) => a + b;", {
            headers: { "content-type": "text/javascript" },
          });
        }
        return new Response(html, { headers: { "content-type": "text/html" } });
      },
    );
    await using chromium = await launchChromium();
    const page = await chromium.browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    assert.equal(await page.textContent("#x"), "hello");
    await page.waitForFunction(() => "sum" in globalThis);
    assert.equal(
      await page.evaluate(() => (globalThis as { sum?: number }).sum),
      5,
    );
    assert.equal(
      await page.evaluate(() => navigator.userAgent.includes("Chrome")),
      true,
    );
  },
});
