import assert from "node:assert/strict";
import fc from "fast-check";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ChatFilterSchema,
  ChatJoinSchema,
  ChatMessageSchema,
} from "../../proto/gen/chat_pb.ts";
import {
  decodeChatMessage,
  encodeChatFilter,
  encodeChatJoin,
  encodeChatMessage,
} from "./chat_proto.js";

Deno.test("chat page codec encodes what protobuf-es decodes", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme" }), fc.string(), (a, b) => {
      assert.deepEqual(
        fromBinary(ChatJoinSchema, encodeChatJoin({ name: a })).name,
        a,
      );
      const msg = fromBinary(
        ChatMessageSchema,
        encodeChatMessage({ from: a, text: b }),
      );
      assert.deepEqual([msg.from, msg.text], [a, b]);
      assert.equal(
        fromBinary(ChatFilterSchema, encodeChatFilter({ from: b })).from,
        b,
      );
    }),
  );
});

Deno.test("chat page codec encodes byte for byte as protobuf-es", () => {
  const long = "ünïcode ".repeat(40);
  for (const [from, text] of [["", ""], ["ann", "hi"], ["", long]]) {
    assert.deepEqual(
      encodeChatMessage({ from, text }),
      toBinary(ChatMessageSchema, create(ChatMessageSchema, { from, text })),
    );
  }
  assert.deepEqual(encodeChatFilter({ from: "" }), new Uint8Array(0));
});

Deno.test("chat page codec decodes protobuf-es output and skips unknown fields", () => {
  const bytes = toBinary(
    ChatMessageSchema,
    create(ChatMessageSchema, { from: "bob", text: "x".repeat(300) }),
  );
  // Unknown fields of every skippable wire type, before and after.
  const unknown = [0x18, 0x96, 0x01, 0x21, 1, 2, 3, 4, 5, 6, 7, 8];
  const tail = [0x2d, 1, 2, 3, 4, 0x32, 2, 0x61, 0x62];
  const decoded = decodeChatMessage(
    new Uint8Array([...unknown, ...bytes, ...tail]),
  );
  assert.deepEqual(decoded, { from: "bob", text: "x".repeat(300) });
});

Deno.test("chat page codec refuses malformed messages", () => {
  assert.throws(
    () => decodeChatMessage(new Uint8Array([0x0a, 5, 0x61])),
    /past/,
  );
  assert.throws(() => decodeChatMessage(new Uint8Array([0x0b])), /wire type 3/);
  assert.throws(() => decodeChatMessage(new Uint8Array([0x80])), /Truncated/);
});
