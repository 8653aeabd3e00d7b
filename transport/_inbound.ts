// How much a WebSocket session keeps received and unread by default: twice
// the largest frame, and at least 64 KiB more than it, since peers pack
// queued frames into messages of up to 64 KiB (websocketStream's
// `maxSendSize`) and one message must always fit.

/** The default `maxBufferedIn` of a side whose largest frame is `max`. */
export function defaultMaxBufferedIn(max: number): number {
  return Math.max(2 * max, max + (64 << 10));
}
