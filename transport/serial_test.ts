import assert from "node:assert/strict";
import { type PtyPair, ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { within } from "../testing/wait.ts";
import { openSerial, quietGap } from "./serial.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const text = (s: string) => new TextEncoder().encode(s);

async function readText(
  stream: { read(buffer: Uint8Array): Promise<number | null> },
  length: number,
): Promise<string> {
  const out = new Uint8Array(length);
  for (let at = 0; at < length;) {
    const n = await stream.read(out.subarray(at));
    if (n === null) throw new Error(`ended after ${at} bytes`);
    at += n;
  }
  return new TextDecoder().decode(out);
}

/** What `stty -F path` reports as the line's speed. */
async function speedOf(path: string): Promise<number> {
  const { stdout } = await new Deno.Command("stty", { args: ["-F", path] })
    .output();
  return Number(/speed (\d+) baud/.exec(new TextDecoder().decode(stdout))![1]);
}

needsPty.test("openSerial carries bytes both ways across a pty pair at the baud rate asked", async () => {
  await using pair = await startPtyPair();
  const a = await openSerial(pair.a, { baud: 9600 });
  const b = await openSerial(pair.b, { baud: 9600 });
  assert.equal(await speedOf(pair.a), 9600);
  assert.deepEqual(a.remoteAddr, { transport: "serial", path: pair.a });
  assert.equal(a.transport, "serial");
  await a.write(text("ping from a"));
  assert.equal(await readText(b, 11), "ping from a");
  // Raw mode: no echo, no line discipline turning \n into \r\n.
  const binary = new Uint8Array(256).map((_, i) => i);
  await b.write(binary);
  const got = new Uint8Array(256);
  for (let at = 0; at < 256;) at += (await a.read(got.subarray(at)))!;
  assert.deepEqual(got, binary);
  a.close();
  b.close();
});

needsPty.test("SerialStream writes while a read is pending on the same line", async () => {
  await using pair = await startPtyPair();
  const a = await openSerial(pair.a);
  const b = await openSerial(pair.b);
  const reading = a.read(new Uint8Array(8));
  // A session always has a read pending while it answers.
  await within(a.write(text("duplex")), { message: "the write" });
  assert.equal(await readText(b, 6), "duplex");
  await b.write(text("!"));
  assert.equal(await reading, 1);
  a.close();
  b.close();
});

needsPty.test("openSerial sets clocal so a line without carrier detect opens", async () => {
  await using pair = await startPtyPair();
  const stty = (...args: string[]) =>
    new Deno.Command("stty", { args: ["-F", pair.b, ...args] }).output();
  await stty("-clocal"); // As a 3-wire UART may come up.
  const line = await openSerial(pair.b);
  const { stdout } = await stty("-a");
  assert.match(new TextDecoder().decode(stdout), /(^|\s)clocal(\s|$)/m);
  line.close();
});

Deno.test("openSerial refuses a baud rate stty cannot set", async () => {
  await assert.rejects(
    openSerial("/dev/null", { baud: 12345 }),
    (error: Error) =>
      error instanceof RangeError && /use one of/.test(error.message),
  );
});

Deno.test("openSerial says what to check when the device is missing", async () => {
  await assert.rejects(
    openSerial("/nonexistent/ttyUSB9"),
    /\/nonexistent\/ttyUSB9.*check that the device exists/,
  );
});

needsPty.test("SerialStream read fails with a clear message when the device goes away", async () => {
  const pair = await startPtyPair();
  const a = await openSerial(pair.a);
  const reading = assert.rejects(
    a.read(new Uint8Array(8)),
    /may have been unplugged/,
  );
  await pair.stop();
  await reading;
  a.close();
});

needsPty.test("SerialStream close ends a pending read and fails later writes", async () => {
  await using pair = await startPtyPair();
  const a = await openSerial(pair.a);
  const reading = assert.rejects(a.read(new Uint8Array(8)));
  a.close();
  a.close();
  await reading;
  await assert.rejects(a.write(text("x")), /closed/);
});

Deno.test("quietGap is a few character times with a floor", () => {
  assert.equal(quietGap(115200), 20);
  assert.equal(quietGap(300), 117);
  assert.equal(quietGap(9600, { characters: 10, minimum: 1 }), 11);
  assert.equal(quietGap(1200, { minimum: 0 }), 30);
});

needsPty.test("SerialStream close settles a write the device does not take", async () => {
  await using pair = await startPtyPair();
  // Nobody reads the other end: the pty's buffers fill and the write waits.
  const a = await openSerial(pair.a);
  const writing = a.write(new Uint8Array(1 << 20));
  a.close();
  await within(
    assert.rejects(writing, /is closed/),
    { message: "the write to settle" },
  );
});

needsPty.test("SerialStream read throws when the device hangs up, pending or after, and never ends as if the line were done", async () => {
  // A read pending at the hang-up fails (EIO); one started after it
  // returns nothing at once (a hung-up descriptor reads as end of file).
  for (const when of ["pending", "after"]) {
    const pair = await startPtyPair();
    const line = await openSerial(pair.a);
    const read = () =>
      assert.rejects(
        line.read(new Uint8Array(8)),
        /failed: .*may have been unplugged/,
      );
    const pending = when === "pending" ? read() : undefined;
    await pair.stop();
    await within(pending ?? read(), { message: `a read ${when}: to fail` });
    line.close();
  }
});

needsPty.test("openSerial in a process that leads its session survives the device hanging up: its read fails instead", async () => {
  await using pair = await startPtyPair();
  // setsid: the child leads its session and the device becomes its terminal.
  // It goes on running after the failed read, as a service does: the kernel
  // wakes the reader before it sends SIGHUP, so a process that exits at once
  // may be past its handlers when the signal comes.
  const { status, output } = await runChild(
    pair,
    "setsid",
    `
    try {
      await line.read(new Uint8Array(8));
      console.log("read ended");
    } catch {
      console.log("read failed");
    }
    line.close();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    console.log("alive");
  `,
  );
  assert.equal(status.signal, null, `ended by ${status.signal}`);
  assert.match(output, /read failed\s+alive/);
});

needsPty.test("openSerial in a process that does not lead its session leaves SIGHUP alone", async () => {
  await using pair = await startPtyPair();
  const { status, output } = await runChild(
    pair,
    null,
    `
    Deno.kill(Deno.pid, "SIGHUP");
    await new Promise((resolve) => setTimeout(resolve, 5000));
    console.log("ignored");
    line.close();
  `,
  );
  assert.equal(status.signal, "SIGHUP", output);
});

/**
 * Runs `body` in a child Deno (under `wrapper` if given) once it has opened
 * `pair.a` as `line` and said "open"; then the pair stops.
 */
async function runChild(
  pair: PtyPair,
  wrapper: string | null,
  body: string,
): Promise<{ status: Deno.CommandStatus; output: string }> {
  const script = `
    import { openSerial } from ${
    JSON.stringify(import.meta.resolve("./serial.ts"))
  };
    const line = await openSerial(${JSON.stringify(pair.a)});
    console.log("open");
    ${body}
  `;
  const args = [Deno.execPath(), "eval", script];
  const child = new Deno.Command(wrapper ?? args.shift()!, {
    args,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  while (!output.includes("open")) {
    const { value, done } = await lines.read();
    if (done) break;
    output += value;
  }
  assert.match(output, /open/);
  await pair.stop(); // the other end goes: the line hangs up
  for (;;) {
    const { value, done } = await lines.read();
    if (done) break;
    output += value;
  }
  return { status: await child.status, output };
}
