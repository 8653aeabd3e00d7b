/**
 * Test kit: a module for `deno task server --module`, which adds to the
 * demo room what the cluster tests need: sessions entering a group and
 * being bound to their name, broadcasts to that group, pushes to one uid,
 * and a request that never answers (printing when it started, so that a
 * test can kill the node mid-request).
 *
 * - `/room/enter`: binds the session to its joined name, adds it to the
 *   group `lobby`;
 * - `/room/shout` (a ChatMessage): broadcast to `lobby` on `/room/messages`;
 * - `/room/whisper` (a ChatMessage; `from` names the uid): pushed to that
 *   uid on `/room/messages`;
 * - `/room/stall`: prints `stall started` and never answers.
 *
 * @module
 */

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import type { Server } from "../server/mod.ts";

/** Registers the extras on `server`. */
export default function chatExtras(server: Server): void {
  server.handle("/room/enter", (ctx) => {
    const name = ctx.session.get<string>("name");
    if (!name) throw new Error("Join first");
    ctx.session.bind(name);
    server.group("lobby").add(ctx.session);
  });
  server.handle("/room/shout", (ctx) => {
    server.group("lobby").broadcast("/room/messages", ctx.copyData());
  });
  server.handle("/room/whisper", (ctx) => {
    const msg = fromBinary(ChatMessageSchema, ctx.data);
    server.pushTo(msg.from, "/room/messages", toBinary(ChatMessageSchema, msg));
  });
  server.handle("/room/stall", () => {
    console.log("stall started");
    return new Promise<void>(() => {});
  });
}
