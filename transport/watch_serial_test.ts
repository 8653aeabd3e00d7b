import assert from "node:assert/strict";
import { captureConsole } from "../testing/logger.ts";
import { waitFor } from "../testing/wait.ts";
import { ptySkipReason, startPtyPair } from "../testing/pty.ts";
import { openSerial, type SerialStream } from "./serial.ts";
import { watchSerial } from "./watch_serial.ts";

/** Registers tests that are ignored where socat is missing outside CI. */
const needsPty: { test: Deno.TestIgnore } = {
  test: ptySkipReason() === undefined ? Deno.test : Deno.test.ignore,
};

/** Echoes every byte back until the stream ends or fails. */
async function echo(stream: SerialStream): Promise<void> {
  const buffer = new Uint8Array(256);
  for (;;) {
    const n = await stream.read(buffer);
    if (n === null) return;
    await stream.write(buffer.subarray(0, n));
  }
}

async function roundTrip(path: string, message: string): Promise<string> {
  const line = await openSerial(path);
  try {
    await line.write(new TextEncoder().encode(message));
    const out = new Uint8Array(message.length);
    for (let at = 0; at < out.length;) {
      const n = await line.read(out.subarray(at));
      if (n === null) throw new Error("line ended");
      at += n;
    }
    return new TextDecoder().decode(out);
  } finally {
    line.close();
  }
}

needsPty.test("watchSerial reopens a device that disappears and comes back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc_watch_" });
  let pair = await startPtyPair({ dir });
  const errors: string[] = [];
  await using watch = watchSerial(
    pair.b,
    { initialDelay: 5, maxDelay: 50, onError: (e) => errors.push(e.message) },
    echo,
  );
  await waitFor(() => watch.current !== undefined, {
    timeout: 5000,
    message: "the first open",
  });
  assert.equal(await roundTrip(pair.a, "first"), "first");

  // The device goes away (socat stops, its links vanish)...
  await pair.stop();
  await waitFor(() => watch.failures > 0, {
    timeout: 5000,
    message: "a failed reopen",
  });
  assert.equal(watch.current, undefined);
  assert.ok(errors.some((m) => /may have been unplugged/.test(m)), errors[0]);
  assert.ok(errors.some((m) => /check that the device exists/.test(m)));

  // ...and comes back at the same path.
  pair = await startPtyPair({ dir });
  await waitFor(() => watch.opens === 2, {
    timeout: 5000,
    message: "the reopen",
  });
  assert.equal(await roundTrip(pair.a, "second"), "second");

  await watch.close();
  assert.equal(watch.current, undefined);
  await pair.stop();
  await Deno.remove(dir, { recursive: true });
});

needsPty.test("watchSerial stops when its signal aborts and closes the stream", async () => {
  await using pair = await startPtyPair();
  const controller = new AbortController();
  let served: SerialStream | undefined;
  let ended = false;
  const watch = watchSerial(pair.b, { signal: controller.signal }, (stream) => {
    served = stream;
    return echo(stream).catch(() => {}).finally(() => ended = true);
  });
  await waitFor(() => served !== undefined, {
    timeout: 5000,
    message: "the open",
  });
  controller.abort();
  await waitFor(() => ended, { timeout: 5000, message: "the stream to close" });
  await watch.close();
  assert.equal(watch.opens, 1);
  await assert.rejects(served!.write(new Uint8Array([1])), /closed/);
});

needsPty.test("watchSerial goes on when its onError throws, and logs that to console.error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc_watch_" });
  using logged = captureConsole("error");
  await using watch = watchSerial(
    `${dir}/b`,
    {
      initialDelay: 5,
      maxDelay: 20,
      onError: () => {
        throw new Error("the logger failed");
      },
    },
    echo,
  );
  await waitFor(() => watch.failures >= 2, {
    timeout: 5000,
    message: "failed opens retried",
  });
  assert.match(String(logged.calls[0][0]), /onError threw/);
  assert.match(String(logged.calls[0][1]), /the logger failed/);
  // The device appears: the watch that survived opens it.
  await using pair = await startPtyPair({ dir });
  await waitFor(() => watch.opens === 1, {
    timeout: 5000,
    message: "the open",
  });
  assert.equal(await roundTrip(pair.a, "still here"), "still here");
  await watch.close();
  await pair.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("watchSerial refuses a second watch of one device in the process, through a link too, until the first is closed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nanorpc_watch_" });
  try {
    // A device file is enough to resolve links; it is never opened here
    // (/dev/null stands for the device, reached through a link).
    await Deno.symlink("/dev/null", `${dir}/tty`);
    const first = watchSerial(`${dir}/tty`, { initialDelay: 1000 }, () => {});
    assert.throws(
      () => watchSerial("/dev/null", {}, () => {}),
      /\/dev\/null is watched already in this process/,
    );
    await first.close();
    const again = watchSerial("/dev/null", { initialDelay: 1000 }, () => {});
    await again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
