// The demo chat's three protobuf messages (proto/chat.proto), encoded and
// decoded by hand so the page needs no build step and no network: each is a
// proto3 message of string fields only.
//
//   ChatJoin    { string name = 1; }              payload of /room/join
//   ChatMessage { string from = 1; string text = 2; }  /room/send, updates
//   ChatFilter  { string from = 1; }              filter of /room/messages
//
// proto/chat.proto is the source of truth; chat_proto_test.ts checks these
// against protobuf-es.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes string fields, numbered from 1, skipping empty ones (proto3).
 * @param {string[]} fields
 * @returns {Uint8Array}
 */
function encodeStrings(fields) {
  const parts = [];
  let size = 0;
  fields.forEach((value, i) => {
    if (!value) return;
    const bytes = encoder.encode(value);
    const head = [...varint(((i + 1) << 3) | 2), ...varint(bytes.length)];
    parts.push(head, bytes);
    size += head.length + bytes.length;
  });
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** @param {number} n @returns {number[]} */
function varint(n) {
  const out = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/**
 * Decodes the string fields numbered 1..count; other fields are skipped,
 * as protobuf requires.
 * @param {Uint8Array} bytes
 * @param {number} count
 * @returns {string[]}
 */
function decodeStrings(bytes, count) {
  const fields = new Array(count).fill("");
  let at = 0;
  const readVarint = () => {
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (at >= bytes.length) throw new Error("Truncated protobuf varint");
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** (7 * i);
      if (byte < 0x80) return value;
    }
    throw new Error("Protobuf varint longer than 10 bytes");
  };
  while (at < bytes.length) {
    const tag = readVarint();
    const field = Math.floor(tag / 8);
    switch (tag & 7) {
      case 0:
        readVarint();
        break;
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const length = readVarint();
        if (at + length > bytes.length) {
          throw new Error("Protobuf field runs past the message end");
        }
        if (field >= 1 && field <= count) {
          fields[field - 1] = decoder.decode(bytes.subarray(at, at + length));
        }
        at += length;
        break;
      }
      default:
        throw new Error(`Malformed protobuf: wire type ${tag & 7}`);
    }
  }
  if (at > bytes.length) throw new Error("Truncated protobuf field");
  return fields;
}

/**
 * @param {{ name: string }} join
 * @returns {Uint8Array} A ChatJoin.
 */
export function encodeChatJoin(join) {
  return encodeStrings([join.name]);
}

/**
 * @param {{ from?: string, text: string }} message
 * @returns {Uint8Array} A ChatMessage.
 */
export function encodeChatMessage(message) {
  return encodeStrings([message.from ?? "", message.text]);
}

/**
 * @param {Uint8Array} bytes A ChatMessage.
 * @returns {{ from: string, text: string }}
 */
export function decodeChatMessage(bytes) {
  const [from, text] = decodeStrings(bytes, 2);
  return { from, text };
}

/**
 * @param {{ from: string }} filter
 * @returns {Uint8Array} A ChatFilter; empty (everything) when `from` is "".
 */
export function encodeChatFilter(filter) {
  return encodeStrings([filter.from]);
}
