/**
 * The demo application `deno task server` serves: `/echo` and a chat room
 * built as a nano-style component.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  type ChatFilter,
  ChatFilterSchema,
  type ChatJoin,
  ChatJoinSchema,
  type ChatMessage,
  ChatMessageSchema,
} from "../proto/gen/chat_pb.ts";
import type { Context } from "./context.ts";
import type { Server } from "./server.ts";

/** Topic every chat message is published to. */
export const ROOM_MESSAGES = "/room/messages";

/**
 * The chat room: `/room/join` remembers the caller's name, `/room/send`
 * publishes a message from it to {@link ROOM_MESSAGES}.
 */
export class RoomComponent {
  #server: Server;

  /** @param server The server to publish on. */
  constructor(server: Server) {
    this.#server = server;
  }

  /** Remembers the session's name. */
  join(msg: ChatJoin, ctx: Context): void {
    ctx.session.set("name", msg.name);
  }

  /** Publishes `text` from the session's joined name (or "anonymous"). */
  send(msg: ChatMessage, ctx: Context): void {
    const from = ctx.session.get<string>("name") ?? "anonymous";
    const update = create(ChatMessageSchema, { from, text: msg.text });
    this.#server.publish(ROOM_MESSAGES, toBinary(ChatMessageSchema, update));
  }
}

/**
 * Registers the demo on `server`: `/echo`, `/room/join`, `/room/send` and
 * the topic `/room/messages` (filter: a ChatFilter; empty means all).
 */
export function registerDemo(server: Server): void {
  server.handle("/echo", (ctx) => ctx.data);
  server.topic(ROOM_MESSAGES, {
    filterSchema: ChatFilterSchema,
    updateSchema: ChatMessageSchema,
    filter: (filter: ChatFilter, msg: ChatMessage) => msg.from === filter.from,
  });
  server.register(new RoomComponent(server), {
    name: "room",
    schemas: {
      join: { input: ChatJoinSchema },
      send: { input: ChatMessageSchema },
    },
  });
}
