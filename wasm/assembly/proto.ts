// The protobuf numbers of the NanoRPC messages (proto/nanorpc.proto): wire
// types, field numbers, and the tags they make. The decoders match whole
// tags, so a known field sent with another wire type falls through to the
// field-number check of isRequestField / isResponseField.

/** Bits of a tag that hold the wire type; the field number is above them. */
export const WIRE_TYPE_BITS: u32 = 3;
/** Mask of the wire type in a tag. */
export const WIRE_TYPE_MASK: u32 = 7;
/** Smallest valid tag: field 1 (field 0 is reserved by protobuf). */
export const MIN_TAG: u64 = 1 << WIRE_TYPE_BITS;
/** Largest valid tag: 32 bits. */
export const MAX_TAG: u64 = 0xffffffff;
/** Most bytes a tag's varint may take. */
export const MAX_TAG_BYTES: usize = 5;
/** Most bytes any varint may take. */
export const MAX_VARINT_BYTES: i32 = 10;
/** Bytes of a WT_I64 field's value. */
export const I64_BYTES: usize = 8;
/** Bytes of a WT_I32 field's value. */
export const I32_BYTES: usize = 4;
/** Bytes of every NanoRPC tag: their field numbers are all below 16. */
export const TAG_BYTES: usize = 1;

/** Wire type: varint. */
export const WT_VARINT: u32 = 0;
/** Wire type: 8 fixed bytes. */
export const WT_I64: u32 = 1;
/** Wire type: varint length, then that many bytes. */
export const WT_LEN: u32 = 2;
/** Wire type: 4 fixed bytes. (3 and 4 are groups, 6 and 7 unassigned.) */
export const WT_I32: u32 = 5;

// NanoRPCRequest fields.
export const REQ_REQUEST_ID: u32 = 1;
export const REQ_REQUEST_TYPE: u32 = 2;
export const REQ_PATH_HASH: u32 = 3;
export const REQ_PATH: u32 = 4;
export const REQ_DATA: u32 = 10;

// NanoRPCResponse fields.
export const RES_REQUEST_ID: u32 = 1;
export const RES_RESPONSE_TYPE: u32 = 2;
export const RES_RESPONSE_STATUS: u32 = 3;
export const RES_RESPONSE_MESSAGE: u32 = 4;
export const RES_DATA: u32 = 10;

// Their tags: field number << WIRE_TYPE_BITS | wire type.
export const TAG_REQ_REQUEST_ID: u32 =
  (REQ_REQUEST_ID << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_REQ_REQUEST_TYPE: u32 =
  (REQ_REQUEST_TYPE << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_REQ_PATH_HASH: u32 =
  (REQ_PATH_HASH << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_REQ_PATH: u32 = (REQ_PATH << WIRE_TYPE_BITS) | WT_LEN;
export const TAG_REQ_DATA: u32 = (REQ_DATA << WIRE_TYPE_BITS) | WT_LEN;

export const TAG_RES_REQUEST_ID: u32 =
  (RES_REQUEST_ID << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_RES_RESPONSE_TYPE: u32 =
  (RES_RESPONSE_TYPE << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_RES_RESPONSE_STATUS: u32 =
  (RES_RESPONSE_STATUS << WIRE_TYPE_BITS) | WT_VARINT;
export const TAG_RES_RESPONSE_MESSAGE: u32 =
  (RES_RESPONSE_MESSAGE << WIRE_TYPE_BITS) | WT_LEN;
export const TAG_RES_DATA: u32 = (RES_DATA << WIRE_TYPE_BITS) | WT_LEN;

/** Whether `field` is one NanoRPCRequest declares. */
@inline
export function isRequestField(field: u32): bool {
  return field == REQ_REQUEST_ID || field == REQ_REQUEST_TYPE ||
    field == REQ_PATH_HASH || field == REQ_PATH || field == REQ_DATA;
}

/** Whether `field` is one NanoRPCResponse declares. */
@inline
export function isResponseField(field: u32): bool {
  return field == RES_REQUEST_ID || field == RES_RESPONSE_TYPE ||
    field == RES_RESPONSE_STATUS || field == RES_RESPONSE_MESSAGE ||
    field == RES_DATA;
}
