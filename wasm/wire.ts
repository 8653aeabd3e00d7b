/**
 * Numbers of the NanoRPC wire protocol shared by server, client and codec,
 * and the FNV-1a path hash.
 *
 * @module
 */

/** `NanoRPCRequest.Type`: what a client asks for. */
export const RequestType = {
  /** No type set; the server answers with an error. */
  UNSPECIFIED: 0,
  /** Liveness check; answered with PONG. */
  PING: 1,
  /** Call the handler at a path. */
  REQUEST: 2,
  /** Subscribe to the topic at a path. */
  SUBSCRIBE: 3,
} as const;

/** A value of {@link RequestType}. */
export type RequestType = typeof RequestType[keyof typeof RequestType];

/** `NanoRPCResponse.Type`: what a server sends. */
export const ResponseType = {
  /** No type set. */
  UNSPECIFIED: 0,
  /** Answer to PING. */
  PONG: 1,
  /** Answer to REQUEST or SUBSCRIBE. */
  RESPONSE: 2,
  /** Data published to a subscription. */
  UPDATE: 3,
} as const;

/** A value of {@link ResponseType}. */
export type ResponseType = typeof ResponseType[keyof typeof ResponseType];

/** `NanoRPCResponse.Status`: the outcome of a request. */
export const Status = {
  /** No status set. */
  UNSPECIFIED: 0,
  /** Success. */
  OK: 1,
  /** No handler or topic at the path. */
  NOT_FOUND: 2,
  /** Refused by middleware or a handler. */
  NOT_AUTHORIZED: 3,
  /** The handler failed or timed out. */
  INTERNAL_ERROR: 4,
} as const;

/** A value of {@link Status}. */
export type Status = typeof Status[keyof typeof Status];

/** Name of a status number, e.g. `"NOT_FOUND"`; `"STATUS_<n>"` if unknown. */
export function statusName(status: number): string {
  for (const [name, value] of Object.entries(Status)) {
    if (value === status) return name;
  }
  return `STATUS_${status}`;
}

/**
 * FNV-1a 32-bit hash of a path's UTF-8 bytes, as NanoRPC sends it in
 * `path_hash`. Computed without allocating: the string is encoded to UTF-8
 * as it is hashed (a lone surrogate counts as U+FFFD, as TextEncoder does).
 *
 * @param path The path, e.g. `"/room/send"`.
 * @returns The hash as an unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * import { fnv1a } from "@nanorpc/nanorpc";
 *
 * fnv1a("foobar"); // 0xbf9cf968
 * ```
 */
export function fnv1a(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    let c = path.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = path.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 0x01000193);
    } else {
      if (c < 0x10000) {
        h = Math.imul(h ^ (0xe0 | (c >> 12)), 0x01000193);
      } else {
        h = Math.imul(h ^ (0xf0 | (c >> 18)), 0x01000193);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 0x01000193);
      }
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 0x01000193);
    }
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), 0x01000193);
  }
  return h >>> 0;
}
