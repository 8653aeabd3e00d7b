/**
 * Why the codec refused a frame: the reason codes a decode reports in its
 * header (defined in wasm/layout.ts, shared with the module) as a named
 * object, and a sentence for each.
 *
 * @module
 */

import {
  REASON_BAD_TAG,
  REASON_BAD_WIRE_TYPE,
  REASON_FRAME_TOO_LARGE,
  REASON_INVALID_UTF8,
  REASON_TRUNCATED,
  REASON_VARINT_TOO_LONG,
  REASON_WRONG_WIRE_TYPE,
} from "./layout.ts";

/**
 * Reason codes of a malformed frame, as found in header word `H_ERROR`;
 * {@link MALFORMED_REASONS} has a sentence for each.
 *
 * @example
 * ```ts
 * import { codec, H_ERROR, MalformedReason } from "./codec.ts";
 *
 * // Field 1 sent with wire type 7.
 * codec.decodeRequests(new Uint8Array([2, 0x0f, 0]), 1 << 20);
 * codec.words[H_ERROR] === MalformedReason.WRONG_WIRE_TYPE; // true
 * ```
 */
export const MalformedReason = {
  /** A varint (prefix, tag or value) runs over 10 bytes. */
  VARINT_TOO_LONG: REASON_VARINT_TOO_LONG,
  /** The length prefix exceeds the maximum message size. */
  FRAME_TOO_LARGE: REASON_FRAME_TOO_LARGE,
  /** A field runs past the end of its frame. */
  TRUNCATED: REASON_TRUNCATED,
  /** A path (or response message) is not valid UTF-8. */
  INVALID_UTF8: REASON_INVALID_UTF8,
  /** Wire type 3, 4, 6 or 7. */
  BAD_WIRE_TYPE: REASON_BAD_WIRE_TYPE,
  /** Field number 0, or a tag over 32 bits or longer than 5 bytes. */
  BAD_TAG: REASON_BAD_TAG,
  /** A known field with a wire type other than its own. */
  WRONG_WIRE_TYPE: REASON_WRONG_WIRE_TYPE,
} as const;

/** A value of {@link MalformedReason}. */
export type MalformedReason =
  typeof MalformedReason[keyof typeof MalformedReason];

/** Why a frame is malformed, indexed by the codec's reason code. */
export const MALFORMED_REASONS: readonly string[] = [
  "",
  "Varint longer than 10 bytes",
  "Frame length prefix exceeds the maximum message size",
  "Field runs past the end of the frame",
  "Path is not valid UTF-8",
  "Invalid wire type (groups and wire types 6 and 7 are not allowed)",
  "Invalid field tag (field number 0, or a tag over 32 bits or 5 bytes)",
  "Known field sent with the wrong wire type",
];
