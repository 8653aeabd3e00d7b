// Headless Chromium against `server.listen({ http })`: two chat pages and a
// TCP client talk to each other through the demo room; a page imports
// /nanorpc.js itself and gets /echo answered; the indicator shows the
// server going away and coming back; the author filter holds.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Page } from "playwright-core";
import { type Client, connect } from "../client/mod.ts";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { browserSkipReason, launchChromium } from "../testing/browser.ts";
import { waitFor } from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import { Server } from "./server.ts";

/**
 * What page functions see of the browser's globals (this file is checked
 * without the DOM library; Playwright runs these functions in the page).
 */
// deno-lint-ignore no-explicit-any
type PageGlobals = any;

/** The demo server on HTTP and TCP, at the given ports (0: free ones). */
async function demoServer(httpPort = 0, tcpPort = 0) {
  const server = new Server({ logLevel: "error" });
  registerDemo(server);
  const http = await server.listen({ http: { port: httpPort } });
  const tcp = await server.listen({ port: tcpPort });
  return {
    server,
    httpPort: (http.addr as Deno.NetAddr).port,
    tcpPort: (tcp.addr as Deno.NetAddr).port,
  };
}

function state(page: Page): Promise<string | undefined> {
  return page.$eval("#status", (el: PageGlobals) => el.dataset.state);
}

async function waitForState(page: Page, wanted: string): Promise<void> {
  await page.waitForFunction(
    (s) => {
      const g: PageGlobals = globalThis;
      return g.document.getElementById("status")?.dataset.state === s;
    },
    wanted,
    { timeout: 15_000 },
  );
}

async function join(page: Page, name: string): Promise<void> {
  await waitForState(page, "open");
  await page.fill("#name", name);
  await page.click("#join-button");
  await page.waitForSelector("#room-view:not([hidden])");
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.click("#send-button");
  await page.waitForFunction(
    () => {
      const g: PageGlobals = globalThis;
      return g.document.getElementById("text").value === "";
    },
  );
}

/** Waits until a message with `text` from `from` is on the page. */
async function sees(page: Page, from: string, text: string): Promise<void> {
  await page.waitForFunction(
    ([from, text]) => {
      const g: PageGlobals = globalThis;
      return [...g.document.querySelectorAll(".message")].some((
        m: PageGlobals,
      ) =>
        m.dataset.from === from &&
        m.querySelector(".text")?.textContent === text
      );
    },
    [from, text],
    { timeout: 15_000 },
  );
}

/** The visible messages as `from: text`. */
function visible(page: Page): Promise<string[]> {
  return page.$$eval(
    ".message:not([hidden])",
    (items: PageGlobals[]) =>
      items.map((m) =>
        `${m.dataset.from}: ${m.querySelector(".text")?.textContent}`
      ),
  );
}

/** A TCP client that joined as `name` and collects the room's messages. */
async function tcpMember(port: number, name: string) {
  const client = await connect(`tcp://127.0.0.1:${port}`, {
    reconnect: { initial: 50, max: 200 },
  });
  const heard: string[] = [];
  await client.request(
    "/room/join",
    toBinary(ChatJoinSchema, create(ChatJoinSchema, { name })),
  );
  await client.subscribe("/room/messages", undefined, {
    onUpdate(update) {
      const msg = fromBinary(ChatMessageSchema, update);
      heard.push(`${msg.from}: ${msg.text}`);
    },
  });
  const say = (text: string) =>
    client.request(
      "/room/send",
      toBinary(ChatMessageSchema, create(ChatMessageSchema, { text })),
    );
  return { client, heard, say };
}

Deno.test({
  name:
    "two chat pages in Chromium and a TCP client chat through the HTTP listener; /nanorpc.js answers /echo; the indicator and the filter work",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    let demo = await demoServer();
    let tcp: Client | undefined;
    await using chromium = await launchChromium();
    try {
      const base = `http://127.0.0.1:${demo.httpPort}`;
      const ada = await chromium.browser.newPage();
      const bob = await chromium.browser.newPage();
      const errors: string[] = [];
      for (const page of [ada, bob]) {
        page.on("pageerror", (e) => errors.push(e.message));
        await page.goto(`${base}/`);
      }

      // The page's own import of the client module, and an /echo.
      const echoed = await ada.evaluate(async (url) => {
        const { connect } = await import("/nanorpc.js" as string);
        const client = await connect(url);
        const { data } = await client.request(
          "/echo",
          new TextEncoder().encode("echo from Chromium"),
        );
        const rtt = await client.ping();
        await client.close();
        return { text: new TextDecoder().decode(data), rtt };
      }, `ws://127.0.0.1:${demo.httpPort}/nanorpc`);
      assert.equal(echoed.text, "echo from Chromium");
      assert.ok(echoed.rtt >= 0);

      await join(ada, "Ada");
      await join(bob, "Bob");
      const member = await tcpMember(demo.tcpPort, "Tcp");
      tcp = member.client;

      await send(ada, "hello from Ada");
      await sees(bob, "Ada", "hello from Ada");
      await waitFor(() => member.heard.includes("Ada: hello from Ada"), {
        message: "the TCP client to hear Ada",
      });
      await member.say("hello from TCP");
      await sees(ada, "Tcp", "hello from TCP");
      await sees(bob, "Tcp", "hello from TCP");
      await send(bob, "hi all, Bob here");
      await sees(ada, "Bob", "hi all, Bob here");
      await waitFor(() => member.heard.includes("Bob: hi all, Bob here"));

      // Bob shows only Ada: the page resubscribes with a ChatFilter.
      const framesIn = demo.server.stats().framesIn;
      await bob.fill("#filter", "Ada");
      await bob.press("#filter", "Enter");
      // Bob's page unsubscribes and subscribes again: two frames.
      await waitFor(() => demo.server.stats().framesIn >= framesIn + 2, {
        message: "Bob's filtered subscription",
      });
      assert.equal(demo.server.stats().subscriptions, 3);
      await member.say("Bob should not see this");
      await sees(ada, "Tcp", "Bob should not see this");
      await send(ada, "only Ada for Bob");
      await sees(bob, "Ada", "only Ada for Bob");
      assert.deepEqual(await visible(bob), [
        "Ada: hello from Ada",
        "Ada: only Ada for Bob",
      ]);
      assert.equal(
        await bob.$$eval(
          ".message",
          (items) =>
            items.filter((m) => m.textContent?.includes("not see"))
              .length,
        ),
        0,
      );

      // The server goes away: the indicator says so; it comes back, the
      // pages rejoin and resubscribe by themselves.
      const { httpPort, tcpPort } = demo;
      await demo.server.shutdown();
      await waitForState(ada, "reconnecting");
      await waitForState(bob, "reconnecting");
      demo = await demoServer(httpPort, tcpPort);
      await waitForState(ada, "open");
      await waitForState(bob, "open");
      await waitFor(() => demo.server.stats().subscriptions === 3, {
        timeout: 15_000,
        message: "both pages and the TCP client to resubscribe",
      });
      await send(ada, "back again");
      await sees(bob, "Ada", "back again");
      await waitFor(() => member.heard.includes("Ada: back again"));
      assert.equal(await state(ada), "open");
      assert.deepEqual(errors, []);
      await ada.close();
      await bob.close();
    } finally {
      await tcp?.close();
      await demo.server.shutdown();
    }
  },
});

/**
 * The demo room on TCP at a free port, with a member that joined before
 * the HTTP listener opens at `httpPort` (so it hears a page's first
 * message), then HTTP.
 */
async function roomHeardFirst(httpPort = 0) {
  const server = new Server({ logLevel: "error" });
  registerDemo(server);
  const tcp = await server.listen({ port: 0 });
  const member = await tcpMember((tcp.addr as Deno.NetAddr).port, "Tcp");
  const http = await server.listen({ http: { port: httpPort } });
  return { server, member, httpPort: (http.addr as Deno.NetAddr).port };
}

Deno.test({
  name:
    "chat.js sends a message typed while reconnecting under the joined name, not as anonymous",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    let demo = await roomHeardFirst();
    await using chromium = await launchChromium();
    try {
      const ada = await chromium.browser.newPage();
      const errors: string[] = [];
      ada.on("pageerror", (e) => errors.push(e.message));
      await ada.goto(`http://127.0.0.1:${demo.httpPort}/`);
      await join(ada, "Ada");

      // The server restarts; Ada sends while the page is reconnecting (the
      // client holds the request until it is connected again).
      await demo.member.client.close();
      await demo.server.shutdown();
      await waitForState(ada, "reconnecting");
      await ada.fill("#text", "typed while away");
      await ada.click("#send-button");
      demo = await roomHeardFirst(demo.httpPort);
      const { heard } = demo.member;
      await waitFor(() => heard.length > 0, {
        timeout: 15_000,
        message: "the message sent while reconnecting",
      });
      await waitForState(ada, "open");
      await ada.fill("#text", "and after");
      await ada.click("#send-button");
      await waitFor(() => heard.length > 1, {
        timeout: 15_000,
        message: "the message sent after reconnecting",
      });
      assert.deepEqual(heard, ["Ada: typed while away", "Ada: and after"]);
      assert.deepEqual(errors, []);
      await ada.close();
    } finally {
      await demo.member.client.close();
      await demo.server.shutdown();
    }
  },
});
