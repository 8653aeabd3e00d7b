import assert from "node:assert/strict";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { waitFor, within } from "../testing/wait.ts";
import { openSerial, type SerialStream } from "./serial.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const text = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens `pair.b` and closes it with a read pending; the stream on
 * `pair.a` that talks to it.
 */
async function closedWithReadPending(
  pair: { a: string; b: string },
): Promise<SerialStream> {
  const a = await openSerial(pair.a);
  const old = await openSerial(pair.b);
  const reading = assert.rejects(old.read(new Uint8Array(64)), /closed/);
  old.close();
  await reading;
  return a;
}

needsPty.test("SerialStream closed with a read pending leaves the device's next bytes to the stream opened after it", async () => {
  await using pair = await startPtyPair();
  // A session always has a read pending: closing it must not leave a read
  // behind that takes what the device says to the next session.
  const a = await closedWithReadPending(pair);
  const fresh = await openSerial(pair.b);
  let got = "";
  const decoder = new TextDecoder();
  const pump = (async () => {
    const buffer = new Uint8Array(64);
    for (;;) {
      const n = await fresh.read(buffer);
      if (n === null) return;
      got += decoder.decode(buffer.subarray(0, n));
    }
  })().catch(() => {});
  for (const word of ["one ", "two ", "three"]) {
    await a.write(text(word));
    await sleep(50);
  }
  await waitFor(() => got.length >= 13, {
    timeout: 2000,
    message: `all three words, got ${JSON.stringify(got)}`,
  }).catch(() => {});
  assert.equal(got, "one two three");
  fresh.close();
  a.close();
  await within(pump, { message: "the reader to end" });
});

needsPty.test("SerialStream hands what a closed stream's read brought only to a stream opened soon after, not to one much later", async () => {
  await using pair = await startPtyPair();
  const a = await closedWithReadPending(pair);
  // Said to a line nobody has open any more, long before the next opens.
  await a.write(text("stale"));
  await sleep(2500);
  const later = await openSerial(pair.b);
  await a.write(text("fresh"));
  let got = "";
  const buffer = new Uint8Array(64);
  await within(
    (async () => {
      while (got.length < 5) {
        const n = await later.read(buffer);
        if (n === null) break;
        got += new TextDecoder().decode(buffer.subarray(0, n));
      }
    })(),
    { message: "the first bytes" },
  );
  assert.equal(got, "fresh");
  later.close();
  a.close();
});
