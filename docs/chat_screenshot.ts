/**
 * Makes docs/chat.png, the README's screenshot of the demo chat page: a
 * server on ephemeral HTTP and TCP ports, two people chatting in headless
 * Chromium (Debian's `chromium`, as the browser tests use) and a third
 * from a TCP client.
 *
 * ```sh
 * deno run -A docs/chat_screenshot.ts
 * ```
 *
 * @module
 */

import {
  create,
  type DescMessage,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { Page } from "playwright-core";
import { connect } from "../client/mod.ts";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { registerDemo } from "../server/demo.ts";
import { Server } from "../server/server.ts";
import { launchChromium } from "../testing/browser.ts";

const target = new URL("./chat.png", import.meta.url);

function encode<D extends DescMessage>(
  schema: D,
  init: MessageInitShape<D>,
): Uint8Array {
  return toBinary(schema, create(schema, init));
}

const server = new Server({ logLevel: "error" });
registerDemo(server);
const { url } = await server.listen({ http: { port: 0 } });
const tcp = await server.listen({ port: 0 });
await using chromium = await launchChromium();
const context = await chromium.browser.newContext({
  viewport: { width: 760, height: 640 },
  colorScheme: "light",
});

async function open(name: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${url}/`);
  await page.waitForSelector('#status[data-state="open"]');
  await page.fill("#name", name);
  await page.click("#join-button");
  await page.waitForSelector("#room-view:not([hidden])");
  return page;
}

async function say(page: Page, text: string, count: number): Promise<void> {
  await page.fill("#text", text);
  await page.click("#send-button");
  await page.waitForFunction(
    `document.querySelectorAll(".message").length >= ${count}`,
  );
}

const ada = await open("Ada");
const grace = await open("Grace");
const lines: [Page, string][] = [
  [ada, "Morning! Is the new build up?"],
  [grace, "Yes, deployed ten minutes ago."],
  [grace, "The WebSocket endpoint is live at /nanorpc."],
  [ada, "Nice. Round trips look like well under a millisecond from here."],
  [grace, "Same frames as over TCP, just in binary messages."],
  [ada, "Filtering by author works too: click a name."],
];
for (const [i, [page, text]] of lines.entries()) {
  await say(page, text, i + 1);
}
await ada.waitForFunction(
  `document.querySelectorAll(".message").length >= ${lines.length}`,
);
// A third person, from a terminal over TCP, as `deno task call` would.
await using terminal = await connect(tcp.url);
await terminal.request("/room/join", encode(ChatJoinSchema, { name: "Linus" }));
await terminal.request(
  "/room/send",
  encode(ChatMessageSchema, { text: "Hello from a terminal, over TCP." }),
);
await ada.waitForFunction(
  `document.querySelectorAll(".message").length >= ${lines.length + 1}`,
);
await ada.fill("#text", "Shipping it!");
await ada.screenshot({ path: target.pathname });
await context.close();
await server.shutdown();
console.log(
  `wrote ${target.pathname} (${(await Deno.stat(target)).size} bytes)`,
);
