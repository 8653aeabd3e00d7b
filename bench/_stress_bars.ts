// The reliability bars, each against its own `deno task server`
// child so that its resident memory is measured alone: a slow consumer
// while 100 MB is published, connect/subscribe/disconnect churn, and
// connections claiming 1 GiB and 4 GiB frames. Internal to bench/.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatJoinSchema, ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { RequestType, ResponseType, Status } from "../wasm/wire.ts";
import { type Check, mb, PeakSampler, ServerChild } from "./_stress_child.ts";
import {
  FrameReader,
  GoodClient,
  pushVarint,
  requestFrame,
} from "./_stress_wire.ts";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ROOM = "/room/messages";

type Addr = { hostname: string; port: number };

async function open(addr: Addr): Promise<FrameReader> {
  return new FrameReader(await Deno.connect(addr));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Sends one request and expects STATUS_OK. */
async function expectOk(
  peer: FrameReader,
  frame: Uint8Array,
  what: string,
): Promise<void> {
  await writeAll(peer.conn, frame);
  const res = await peer.next();
  if (res?.responseStatus !== Status.OK) {
    throw new Error(`${what} failed: ${res?.responseMessage ?? "no answer"}`);
  }
}

const subscribeFrame = (id: number) =>
  requestFrame({ id, type: RequestType.SUBSCRIBE, path: ROOM });

function joinFrame(name: string): Uint8Array {
  return requestFrame({
    id: 1,
    type: RequestType.REQUEST,
    path: "/room/join",
    data: toBinary(ChatJoinSchema, create(ChatJoinSchema, { name })),
  });
}

function sendFrame(id: number, text: string): Uint8Array {
  return requestFrame({
    id,
    type: RequestType.REQUEST,
    path: "/room/send",
    data: toBinary(ChatMessageSchema, create(ChatMessageSchema, { text })),
  });
}

/** Reads `count` updates; returns how many came whole and in order. */
async function readUpdates(peer: FrameReader, id: number, count: number) {
  let inOrder = 0;
  for (let seq = 0; seq < count; seq++) {
    const res = await peer.next(30_000);
    if (!res || res.responseType !== ResponseType.UPDATE) break;
    if (res.requestId !== id) break;
    const msg = fromBinary(ChatMessageSchema, res.data);
    if (msg.from !== "publisher" || !msg.text.startsWith(`${seq}:`)) break;
    inOrder++;
  }
  return inOrder;
}

async function pingAfter(good: GoodClient): Promise<boolean> {
  return await good.ping() && await good.echo(100);
}

/**
 * A subscriber that never reads while `total` bytes of chat messages are
 * published: RSS grows < 48 MB, two reading subscribers get every update,
 * every publish is answered.
 */
export async function slowConsumer(total: number): Promise<Check[]> {
  const size = 16 * 1024;
  const count = Math.ceil(total / size);
  console.log(
    `\n== slow consumer: ${count} updates of ${size} bytes (${
      mb(count * size)
    }) published`,
  );
  const server = await ServerChild.start();
  const good = await GoodClient.connect(server.addr);
  const publisher = await open(server.addr);
  await expectOk(publisher, joinFrame("publisher"), "join");
  const pad = "x".repeat(size - 16);
  // Warm-up: the publish path, with nobody subscribed yet.
  for (let i = 0; i < 200; i++) {
    await expectOk(publisher, sendFrame(i, `w:${pad}`), "warm-up publish");
  }
  const slow = await open(server.addr);
  await expectOk(slow, subscribeFrame(7), "slow subscribe");
  const readers = [await open(server.addr), await open(server.addr)];
  for (const [i, r] of readers.entries()) {
    await expectOk(r, subscribeFrame(10 + i), "subscribe");
  }
  const base = server.rss();
  const rss = new PeakSampler(() => server.rss());
  const started = performance.now();
  const reading = readers.map((r, i) => readUpdates(r, 10 + i, count));

  let answered = 0;
  const window = 8;
  for (let seq = 0; seq < count; seq += window) {
    const n = Math.min(window, count - seq);
    const frames = [];
    for (let k = 0; k < n; k++) {
      frames.push(sendFrame(seq + k, `${seq + k}:${pad}`));
    }
    for (const f of frames) await writeAll(publisher.conn, f);
    for (let k = 0; k < n; k++) {
      const res = await publisher.next();
      if (res?.requestId === seq + k && res.responseStatus === Status.OK) {
        answered++;
      }
    }
  }
  const received = await Promise.all(reading);
  const seconds = (performance.now() - started) / 1000;
  const peak = rss.stop();
  const alive = await pingAfter(good);
  for (const peer of [slow, publisher, ...readers]) peer.close();
  good.close();
  const summary = await server.stop();
  console.log(
    `published ${mb(count * size)} in ${
      seconds.toFixed(1)
    } s; answered ${answered}/${count}; ` +
      `readers got ${received.join(" and ")} of ${count}`,
  );
  console.log(
    `server RSS ${mb(base)} before, ${mb(peak)} peak (+${mb(peak - base)})`,
  );
  console.log(`server summary: ${summary?.line ?? "(none)"}`);
  return [
    {
      name: `slow consumer: RSS grew ${mb(peak - base)} (< 48 MB) with ${
        mb(count * size)
      } published`,
      pass: peak - base < 48 * MiB,
    },
    {
      name: "slow consumer: every other subscriber received every update",
      pass: received.every((n) => n === count),
    },
    {
      name: "slow consumer: every publish was answered",
      pass: answered === count,
    },
    {
      name:
        `slow consumer: the slow subscriber's updates were dropped and counted (${
          summary?.dropped ?? "?"
        })`,
      pass: (summary?.dropped ?? 0) > 0,
    },
    { name: "slow consumer: the server answers a ping after", pass: alive },
  ];
}

/**
 * One churn cycle: join, subscribe twice, then leave cleanly, abruptly
 * with requests in flight, or in the middle of a frame.
 */
async function cycle(addr: Addr, n: number): Promise<void> {
  const peer = await open(addr);
  const sub = subscribeFrame(3);
  const opening = new Uint8Array([
    ...joinFrame(`p${n}`),
    ...subscribeFrame(2),
    ...sub,
  ]);
  try {
    if (n % 3 === 1) {
      await writeAll(
        peer.conn,
        new Uint8Array([...opening, ...sub.subarray(0, 3)]),
      );
    } else {
      await writeAll(peer.conn, opening);
    }
    if (n % 3 !== 2) {
      for (let i = 0; i < 3; i++) {
        const res = await peer.next();
        if (res?.responseStatus !== Status.OK) throw new Error("cycle refused");
      }
    }
  } finally {
    peer.close();
  }
}

/** `cycles` churn cycles; the first 3,000 grow RSS < 32 MB; none stay. */
export async function churn(cycles: number): Promise<Check[]> {
  const bar = Math.min(3000, cycles);
  console.log(`\n== churn: ${cycles} connect/join/subscribe/disconnect cycles`);
  const server = await ServerChild.start();
  const good = await GoodClient.connect(server.addr);
  for (let i = 0; i < 200; i++) await cycle(server.addr, i);
  await new Promise((r) => setTimeout(r, 200));
  const base = server.rss();
  const baseFds = server.fds();
  const rss = new PeakSampler(() => server.rss());
  let next = 0;
  let done = 0;
  let atBar = NaN;
  let peakAtBar = NaN;
  let failed = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < cycles) {
      try {
        await cycle(server.addr, next++);
      } catch {
        failed++;
      }
      if (++done === bar) {
        atBar = server.rss();
        peakAtBar = rss.peak;
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const seconds = (performance.now() - started) / 1000;
  let endFds = server.fds();
  for (let i = 0; i < 100 && endFds > baseFds; i++) {
    await new Promise((r) => setTimeout(r, 50));
    endFds = server.fds();
  }
  const peak = rss.stop();
  const end = server.rss();
  const alive = await pingAfter(good);
  good.close();
  const summary = await server.stop();
  console.log(
    `${cycles} cycles in ${seconds.toFixed(1)} s (${
      (cycles / seconds).toFixed(0)
    }/s), ${failed} failed`,
  );
  console.log(
    `server RSS ${mb(base)} before; after ${bar}: ${mb(atBar)} (peak ${
      mb(peakAtBar)
    }); ` +
      `after ${cycles}: ${mb(end)} (peak ${
        mb(peak)
      }); open fds ${baseFds} before, ${endFds} after`,
  );
  console.log(`server summary: ${summary?.line ?? "(none)"}`);
  return [
    {
      name: `churn: ${bar} cycles grew RSS ${mb(peakAtBar - base)} (< 32 MB)`,
      pass: peakAtBar - base < 32 * MiB,
    },
    {
      name:
        `churn: ${cycles} cycles left no session behind (fds ${baseFds} -> ${endFds})`,
      pass: endFds <= baseFds && failed === 0,
    },
    {
      name: "churn: the server served every session and answers a ping after",
      pass: alive && summary?.sessions === cycles + 200 + 1,
    },
  ];
}

/** Resolves when the server has closed `conn` (or after 10 s, false). */
async function closedByServer(conn: Deno.Conn): Promise<boolean> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, 10_000);
  const sink = new Uint8Array(1024);
  try {
    while (await conn.read(sink) !== null) { /* discard */ }
  } catch {
    // Reset by the server: closed too.
  } finally {
    clearTimeout(timer);
  }
  if (!timedOut) conn.close();
  return !timedOut;
}

/** `n` connections at once each claiming a 1 GiB, then 4 GiB, frame. */
export async function oversize(n: number): Promise<Check[]> {
  console.log(
    `\n== oversize: ${n} connections at once claiming 1 GiB, then 4 GiB`,
  );
  const server = await ServerChild.start();
  const good = await GoodClient.connect(server.addr);
  for (let i = 0; i < 50; i++) await good.echo(i);
  const checks: Check[] = [];
  for (const claim of [GiB, 4 * GiB]) {
    const label = `${claim / GiB} GiB`;
    const prefix: number[] = [];
    pushVarint(prefix, claim);
    const bytes = new Uint8Array([...prefix, 0x08, 0x01, 0x10, 0x02]);
    const base = server.rss();
    const rss = new PeakSampler(() => server.rss(), 5);
    const conns: Deno.Conn[] = [];
    for (let i = 0; i < n; i += 50) {
      const batch = Math.min(50, n - i);
      conns.push(
        ...await Promise.all(
          Array.from({ length: batch }, () => Deno.connect(server.addr)),
        ),
      );
    }
    const started = performance.now();
    await Promise.all(conns.map((c) => writeAll(c, bytes).catch(() => {})));
    const closed = await Promise.all(conns.map(closedByServer));
    const ms = performance.now() - started;
    await new Promise((r) => setTimeout(r, 100));
    const peak = rss.stop();
    const alive = await pingAfter(good);
    const all = closed.every(Boolean);
    console.log(
      `${label}: ${
        closed.filter(Boolean).length
      }/${n} closed by the server in ${ms.toFixed(0)} ms; RSS ${
        mb(base)
      } before, ${mb(peak)} peak (+${mb(peak - base)})`,
    );
    checks.push(
      {
        name: `oversize: ${n} × ${label} claims grew RSS ${
          mb(peak - base)
        } (< 32 MB)`,
        pass: peak - base < 32 * MiB,
      },
      {
        name:
          `oversize: all ${n} × ${label} connections were closed and a ping answered after`,
        pass: all && alive,
      },
    );
  }
  good.close();
  const summary = await server.stop();
  console.log(`server summary: ${summary?.line ?? "(none)"}`);
  checks.push({
    name: `oversize: every claim counted as malformed (${
      summary?.malformed ?? "?"
    })`,
    pass: summary?.malformed === 2 * n,
  });
  return checks;
}
