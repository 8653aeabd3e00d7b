/**
 * NATS subjects for broker channels. A channel `kind:name` (`topic:/room/x`,
 * `group:lobby`, `uid:alice`) becomes `<prefix>.<kind>.<name>`, each token
 * escaped so that any string maps to a valid subject and no two channels
 * share one:
 *
 * - ASCII letters, digits and `-_/:~` stay as they are (paths read well in
 *   `nats sub 'nanorpc.topic.>'`);
 * - every other UTF-8 byte, including `.`, `*`, `>`, `%`, `$` and
 *   whitespace, becomes `%XX` (uppercase hex);
 * - the empty token becomes `%` (a lone `%` is never an escape);
 * - a token that would exceed {@link MAX_TOKEN} bytes becomes `%H` and the
 *   SHA-256 of its name in hex, so the control line stays far under the
 *   server's 4 KiB limit.
 *
 * A channel without `:` becomes one token after the prefix.
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Longest escaped token kept verbatim; longer ones are hashed. */
export const MAX_TOKEN = 256;

const encoder = new TextEncoder();
const HEX = "0123456789ABCDEF";

function plain(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || // 0-9
    (b >= 0x41 && b <= 0x5a) || // A-Z
    (b >= 0x61 && b <= 0x7a) || // a-z
    b === 0x2d || b === 0x5f || b === 0x2f || b === 0x3a || b === 0x7e; // -_/:~
}

/**
 * Escapes one subject token.
 *
 * @param name Any string.
 * @returns A non-empty token of printable ASCII without `.`, `*`, `>`.
 */
export function escapeToken(name: string): string {
  if (name === "") return "%";
  const bytes = encoder.encode(name);
  let out = "";
  for (const b of bytes) {
    out += plain(b) ? String.fromCharCode(b) : `%${HEX[b >> 4]}${HEX[b & 15]}`;
    if (out.length > MAX_TOKEN) {
      return `%H${createHash("sha256").update(bytes).digest("hex")}`;
    }
  }
  return out;
}

/**
 * Checks a subject prefix: one or more dot-separated tokens of printable
 * ASCII, without wildcards.
 *
 * @param prefix The prefix, e.g. `"nanorpc"` or `"prod.nanorpc"`.
 * @throws {TypeError} When it is not a valid literal subject.
 */
export function checkPrefix(prefix: string): void {
  const valid = prefix.split(".").every((token) =>
    token.length > 0 && /^[\x21-\x7e]+$/.test(token) && token !== "*" &&
    token !== ">"
  );
  if (!valid) {
    throw new TypeError(
      `Invalid NATS subject prefix ${
        JSON.stringify(prefix)
      }: use dot-separated tokens of printable ASCII without spaces, "*" or ">"`,
    );
  }
}

/**
 * The subject a channel travels on.
 *
 * @param prefix A prefix that passed {@link checkPrefix}.
 * @param channel The broker channel, e.g. `topic:/room/messages`.
 * @returns The subject, e.g. `nanorpc.topic./room/messages`.
 */
export function channelSubject(prefix: string, channel: string): string {
  const colon = channel.indexOf(":");
  if (colon < 0) return `${prefix}.${escapeToken(channel)}`;
  return `${prefix}.${escapeToken(channel.slice(0, colon))}.${
    escapeToken(channel.slice(colon + 1))
  }`;
}

/** Subjects of recently used channels; forgets all past `limit` entries. */
export class SubjectCache {
  #subjects = new Map<string, string>();

  /**
   * @param prefix A prefix that passed {@link checkPrefix}.
   * @param limit Most channels remembered.
   */
  constructor(readonly prefix: string, readonly limit = 4096) {}

  /** The subject of `channel`. */
  get(channel: string): string {
    let subject = this.#subjects.get(channel);
    if (subject === undefined) {
      if (this.#subjects.size >= this.limit) this.#subjects.clear();
      subject = channelSubject(this.prefix, channel);
      this.#subjects.set(channel, subject);
    }
    return subject;
  }
}
