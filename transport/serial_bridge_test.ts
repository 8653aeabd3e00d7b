import assert from "node:assert/strict";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { waitFor, within } from "../testing/wait.ts";
import { bridgeSerial } from "./_serial_bridge.ts";
import { openSerial } from "./serial.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Runs `source` as a module with only `flags` (`deno eval` would grant
 * every permission), with the device path as its argument.
 */
async function runWith(
  flags: string[],
  source: string,
  path: string,
): Promise<Deno.ChildProcess> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(
    file,
    `import { openSerial } from ${
      JSON.stringify(import.meta.resolve("./serial.ts"))
    };\n${source}`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...flags, file, path],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  child.status.finally(() => Deno.remove(file));
  return child;
}

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

needsPty.test("bridgeSerial carries every byte value both ways through cat and dd while a read is pending", async () => {
  await using pair = await startPtyPair();
  const direct = await openSerial(pair.b);
  await openSerial(pair.a).then((line) => line.close()); // stty raw on a
  const bridged = bridgeSerial(pair.a, 115200);
  assert.equal(bridged.transport, "serial");
  assert.deepEqual(bridged.remoteAddr, { transport: "serial", path: pair.a });
  const reading = readText(bridged, 5);
  const binary = new Uint8Array(256).map((_, i) => i);
  await within(bridged.write(binary), { message: "the bridged write" });
  const got = new Uint8Array(256);
  for (let at = 0; at < 256;) at += (await direct.read(got.subarray(at)))!;
  assert.deepEqual(got, binary);
  await direct.write(text("hello"));
  assert.equal(await reading, "hello");
  bridged.close();
  direct.close();
  await bridged.exited;
});

needsPty.test("bridgeSerial close still delivers what resolved writes handed to dd", async () => {
  await using pair = await startPtyPair();
  const direct = await openSerial(pair.b);
  await openSerial(pair.a).then((line) => line.close()); // stty raw on a
  const bridged = bridgeSerial(pair.a, 115200);
  // More than the ptys buffer while nothing reads b: most of it waits in
  // dd's pipe when the write resolves, and close must not drop it.
  const sent = new Uint8Array(32 * 1024).map((_, i) => i % 251);
  await within(bridged.write(sent), { message: "the bridged write" });
  bridged.close();
  const got = new Uint8Array(sent.length);
  await within(
    (async () => {
      for (let at = 0; at < got.length;) {
        at += (await direct.read(got.subarray(at)))!;
      }
    })(),
    {
      timeout: 20_000,
      message: "every written byte to come out of the other end",
    },
  );
  assert.deepEqual(got, sent);
  await within(bridged.exited, { message: "cat and dd to exit" });
  direct.close();
});

needsPty.test("bridgeSerial read fails with a clear message when the device goes away", async () => {
  const pair = await startPtyPair();
  await openSerial(pair.a).then((line) => line.close());
  const bridged = bridgeSerial(pair.a, 115200);
  const reading = assert.rejects(
    bridged.read(new Uint8Array(8)),
    /serial device .* failed: .*may have been unplugged/,
  );
  await pair.stop();
  await reading;
  await within(bridged.exited, { message: "cat and dd to exit" });
  await assert.rejects(
    waitFor(async () => {
      await bridged.write(text("x"));
      return false;
    }, 2000),
    /unplugged|closed/,
  );
  bridged.close();
});

needsPty.test("openSerial bridges the line when the process may not open device files", async () => {
  await using pair = await startPtyPair();
  const child = await runWith(
    ["--allow-read", "--allow-write", "--allow-run=stty,cat,dd"],
    `const line = await openSerial(Deno.args[0]);
    console.log(line.constructor.name);
    const buffer = new Uint8Array(4);
    let got = 0;
    while (got < 4) got += (await line.read(buffer.subarray(got)))!;
    await line.write(buffer.reverse());
    line.close();`,
    pair.a,
  );
  const peer = await openSerial(pair.b);
  // The child opens its end after starting up: repeat until it answers.
  let answered = false;
  const answer = readText(peer, 4).finally(() => answered = true);
  answer.catch(() => {}); // awaited below, after the loop

  await waitFor(async () => {
    if (!answered) await peer.write(text("abcd"));
    await waitFor(() => answered, 300).catch(() => {});
    return answered;
  }, { timeout: 10_000, message: "the bridged line to answer" });
  assert.equal(await answer, "dcba");
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.equal(new TextDecoder().decode(stdout).trim(), "Bridge");
  peer.close();
});

needsPty.test("openSerial names the flags when neither the device nor cat and dd may be used", async () => {
  await using pair = await startPtyPair();
  const child = await runWith(
    ["--allow-read", "--allow-write", "--allow-run=stty"],
    `await openSerial(Deno.args[0]).catch((e) => console.log(e.name, e.message));`,
    pair.a,
  );
  const { stdout } = await child.output();
  assert.match(
    new TextDecoder().decode(stdout),
    /NotCapable .*--allow-all.*--allow-run=stty,cat,dd/,
  );
});

Deno.test("bridgeSerial never makes a file of a device path that is gone", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/ttyGONE`;
  try {
    const line = bridgeSerial(path, 115200);
    await line.write(text("hello")).catch(() => {});
    await line.read(new Uint8Array(16)).catch(() => null);
    line.close();
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
