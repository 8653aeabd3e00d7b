// Headless Chromium: the demo chat page keeps its name across a server
// restart, even for a message sent while the page was reconnecting.

import assert from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Page } from "playwright-core";
import { connect } from "../client/mod.ts";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { browserSkipReason, launchChromium } from "../testing/browser.ts";
import { waitFor } from "../testing/mod.ts";
import { registerDemo } from "./demo.ts";
import { Server } from "./server.ts";

/** Page functions run in Chromium; this file is checked without the DOM. */
// deno-lint-ignore no-explicit-any
type PageGlobals = any;

/** The demo room on TCP, where `heard` collects what is said in it. */
async function demoRoom() {
  const server = new Server({ logLevel: "error" });
  registerDemo(server);
  const tcp = await server.listen({ port: 0 });
  const client = await connect(
    `tcp://127.0.0.1:${(tcp.addr as Deno.NetAddr).port}`,
  );
  const heard: string[] = [];
  await client.request(
    "/room/join",
    toBinary(ChatJoinSchema, create(ChatJoinSchema, { name: "Tcp" })),
  );
  await client.subscribe("/room/messages", undefined, {
    onUpdate(update) {
      const msg = fromBinary(ChatMessageSchema, update);
      heard.push(`${msg.from}: ${msg.text}`);
    },
  });
  return { server, client, heard };
}

/** A demo room that also listens on HTTP at `port` (0: a free one). */
async function demoServer(port = 0) {
  const room = await demoRoom();
  const http = await room.server.listen({ http: { port } });
  return { ...room, port: (http.addr as Deno.NetAddr).port };
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

Deno.test({
  name:
    "chat.js sends a message typed while reconnecting under the joined name, not as anonymous",
  ignore: browserSkipReason() !== undefined,
  async fn() {
    let demo = await demoServer();
    await using chromium = await launchChromium();
    try {
      const ada = await chromium.browser.newPage();
      const errors: string[] = [];
      ada.on("pageerror", (e) => errors.push(e.message));
      await ada.goto(`http://127.0.0.1:${demo.port}/`);
      await waitForState(ada, "open");
      await ada.fill("#name", "Ada");
      await ada.click("#join-button");
      await ada.waitForSelector("#room-view:not([hidden])");

      // The server restarts; Ada sends while the page is reconnecting (the
      // client holds the request until it is connected again).
      await demo.client.close();
      await demo.server.shutdown();
      await waitForState(ada, "reconnecting");
      await ada.fill("#text", "typed while away");
      await ada.click("#send-button");
      demo = await demoServer(demo.port);
      await waitFor(() => demo.heard.length > 0, {
        timeout: 15_000,
        message: "the message sent while reconnecting",
      });
      await waitForState(ada, "open");
      await ada.fill("#text", "and after");
      await ada.click("#send-button");
      await waitFor(() => demo.heard.length > 1, {
        timeout: 15_000,
        message: "the message sent after reconnecting",
      });
      assert.deepEqual(demo.heard, ["Ada: typed while away", "Ada: and after"]);
      assert.deepEqual(errors, []);
      await ada.close();
    } finally {
      await demo.client.close();
      await demo.server.shutdown();
    }
  },
});
