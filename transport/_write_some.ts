// An internal fast path of the streams this library makes: a write that may
// write only part of its bytes and says how many it wrote, as Deno.Conn's
// does. Whoever writes through it (the server's outbox) carries on with the
// rest itself, which saves a promise and a turn of the microtask queue per
// write over ByteStream.write's all-or-nothing promise. Not part of the
// public ByteStream: a symbol no user adapter has.

/** The key of the method; see {@link WritesSome}. */
export const WRITE_SOME: unique symbol = Symbol("nanorpc.writeSome");

/** A stream with the fast path: resolves with how many bytes were written. */
export interface WritesSome {
  [WRITE_SOME](data: Uint8Array): Promise<number>;
}

/** Whether `stream` has the fast path. */
export function writesSome(stream: object): stream is WritesSome {
  return typeof (stream as Partial<WritesSome>)[WRITE_SOME] === "function";
}
