/**
 * The demo application `deno task server` serves: `/echo` and the chat
 * room, `service Room` of `proto/chat.proto`.
 *
 * @module
 */

import { Room } from "../proto/gen/chat_pb.ts";
import { methodPath } from "../protocol/service.ts";
import type { Server } from "./server.ts";
import type { ServiceRegistration } from "./service.ts";

/**
 * Which part of the demo a node serves (`deno task server --demo`): `all`,
 * only `/echo`, only the chat `room`, or `none`. Two nodes of a cluster
 * that serve different parts forward to each other.
 */
export type DemoPart = "all" | "echo" | "room" | "none";

/** The values of {@link DemoPart}. */
export const DEMO_PARTS: readonly DemoPart[] = ["all", "echo", "room", "none"];

/** Topic every chat message is published to: `/room/messages`. */
export const ROOM_MESSAGES: string = methodPath(Room.method.messages);

/**
 * Registers the demo on `server`: `/echo` (answers with the request data)
 * and `service Room` -- `/room/join` remembers the caller's name,
 * `/room/send` publishes a message from it (or from "anonymous") to
 * `/room/messages`, whose filter (a ChatFilter; empty means all) keeps one
 * sender's messages.
 *
 * @param server The server to register on.
 * @param part Which part to register; all of it by default.
 * @returns The room's registration, to publish to it (none without it).
 */
export function registerDemo(
  server: Server,
  part: DemoPart = "all",
): ServiceRegistration<typeof Room> | undefined {
  if (part === "all" || part === "echo") {
    server.handle("/echo", (ctx) => ctx.data);
  }
  if (part !== "all" && part !== "room") return undefined;
  const room = server.service(Room, {
    join(msg, ctx) {
      ctx.session.set("name", msg.name);
    },
    send(msg, ctx) {
      const from = ctx.session.get<string>("name") ?? "anonymous";
      room.publish("messages", { from, text: msg.text });
    },
    messages: { filter: (filter, msg) => msg.from === filter.from },
  });
  return room;
}
