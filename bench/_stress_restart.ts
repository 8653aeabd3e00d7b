// Client reconnects: `deno task server` is killed
// (SIGKILL, or SIGTERM for a graceful stop) and restarted on the same port
// while clients keep sending requests and one holds a subscription. Every
// client must reconnect within its backoff once the server is back, the
// subscription must deliver again, and no request may be left hanging:
// each one is answered correctly or fails with a client error. Internal to
// bench/.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { ChatMessageSchema } from "../proto/gen/chat_pb.ts";
import { connect } from "../client/mod.ts";
import type { Client } from "../client/client.ts";
import { ClientError } from "../client/errors.ts";
import { type Check, ServerChild } from "./_stress_child.ts";

/** Backoff of every client: the reconnect bar is `max` plus slack. */
const RECONNECT = { initial: 50, max: 1000, factor: 2, jitter: 0.5 };
const SLACK_MS = 500;
const TIMEOUT_MS = 5000;

interface Outcomes {
  ok: number;
  wrong: number;
  failed: Map<string, number>;
  pending: Set<Promise<void>>;
  slowestSettleMs: number;
  problems: string[];
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Sends echoes back to back until `stop`, recording how each settles. */
async function load(client: Client, out: Outcomes, stop: { now: boolean }) {
  let n = 0;
  while (!stop.now) {
    const data = crypto.getRandomValues(new Uint8Array(n++ % 200));
    const started = performance.now();
    const call = client.request("/echo", data).then(
      (res) => {
        if (equal(res.data, data)) out.ok++;
        else out.wrong++;
      },
      (err) => {
        if (err instanceof ClientError) {
          out.failed.set(err.name, (out.failed.get(err.name) ?? 0) + 1);
        } else {
          out.wrong++;
          if (out.problems.length < 5) out.problems.push(String(err));
        }
      },
    ).finally(() => {
      out.slowestSettleMs = Math.max(
        out.slowestSettleMs,
        performance.now() - started,
      );
      out.pending.delete(call);
    });
    out.pending.add(call);
    // A few in flight per client; wait for the oldest when over.
    if (out.pending.size > 8) await Promise.race(out.pending);
    else await new Promise((r) => setTimeout(r, 1));
  }
}

function chat(text: string): Uint8Array {
  return toBinary(ChatMessageSchema, create(ChatMessageSchema, { text }));
}

/** Resolves with when `client` next fires `reconnect`. */
function nextReconnect(client: Client): Promise<number> {
  return new Promise((resolve) =>
    client.addEventListener("reconnect", () => resolve(performance.now()), {
      once: true,
    })
  );
}

async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) =>
    timer = setTimeout(() => r(undefined), ms)
  );
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `rounds` kills and restarts with `clients` clients under load. */
export async function restart(
  rounds: number,
  clients: number,
): Promise<Check[]> {
  console.log(
    `\n== restart: ${rounds} kills and restarts under load from ${clients} clients`,
  );
  let server = await ServerChild.start();
  const port = server.addr.port;
  const url = `tcp://127.0.0.1:${port}`;
  const options = { reconnect: RECONNECT, timeout: TIMEOUT_MS };
  const loaded = await Promise.all(
    Array.from({ length: clients }, () => connect(url, options)),
  );
  const watcher = await connect(url, options);
  const texts: string[] = [];
  const seen = new Map<string, () => void>();
  const subscription = await watcher.subscribe("/room/messages", undefined, {
    onUpdate: (update) => {
      const { text } = fromBinary(ChatMessageSchema, update);
      texts.push(text);
      seen.get(text)?.();
    },
  });

  const out: Outcomes = {
    ok: 0,
    wrong: 0,
    failed: new Map(),
    pending: new Set(),
    slowestSettleMs: 0,
    problems: [],
  };
  const stop = { now: false };
  const loading = loaded.map((c) => load(c, out, stop));
  const reconnectMs: number[] = [];
  let resubscribed = 0;
  let served = 0;
  for (let round = 1; round <= rounds; round++) {
    await new Promise((r) => setTimeout(r, 400));
    const graceful = round % 2 === 0;
    const reconnects = [...loaded, watcher].map(nextReconnect);
    if (graceful) await server.stop();
    else await server.kill();
    await new Promise((r) => setTimeout(r, 300));
    server = await ServerChild.start(port);
    const up = performance.now();
    const at = await within(Promise.all(reconnects), RECONNECT.max + 5000);
    const delay = at ? Math.max(...at.map((t) => t - up)) : Infinity;
    reconnectMs.push(delay);
    const okBefore = out.ok;

    // The subscription is back: a message sent now reaches the watcher.
    const text = `after restart ${round}`;
    const arrived = new Promise<void>((r) => seen.set(text, r));
    await within(
      (async () => {
        while (subscription.state !== "active") {
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      TIMEOUT_MS,
    );
    await loaded[0].request("/room/send", chat(text)).catch(() => {});
    if (await within(arrived.then(() => true), TIMEOUT_MS)) resubscribed++;
    await new Promise((r) => setTimeout(r, 200));
    if (out.ok > okBefore) served++;
    console.log(
      `  round ${round} (${
        graceful ? "SIGTERM" : "SIGKILL"
      }): every client back ${
        delay.toFixed(0)
      } ms after the server listened; ${out.ok} answered, ${
        [...out.failed].map(([k, v]) => `${v} ${k}`).join(", ") || "none failed"
      }`,
    );
  }
  stop.now = true;
  await Promise.all(loading);
  const settled = await within(
    Promise.all(out.pending).then(() => true),
    TIMEOUT_MS + 5000,
  );
  const hanging = out.pending.size;
  await Promise.all([...loaded, watcher].map((c) => c.close()));
  await server.stop();

  const worst = Math.max(...reconnectMs);
  const bound = RECONNECT.max + SLACK_MS;
  console.log(
    `requests: ${out.ok} answered correctly, ${out.wrong} wrong, failed with client errors: ${
      [...out.failed].map(([k, v]) => `${k} ${v}`).join(", ") || "none"
    }; slowest settled in ${out.slowestSettleMs.toFixed(0)} ms`,
  );
  for (const p of out.problems) console.log(`  wrong: ${p}`);
  return [
    {
      name: `restart: every client reconnected within its backoff (worst ${
        worst.toFixed(0)
      } ms <= ${bound} ms)`,
      pass: worst <= bound,
    },
    {
      name:
        `restart: the subscription delivered again after ${resubscribed}/${rounds} restarts`,
      pass: resubscribed === rounds,
    },
    {
      name: `restart: no request left hanging (${hanging} pending at the end)`,
      pass: settled === true && hanging === 0,
    },
    {
      name:
        "restart: no wrong answer, and requests were answered after every restart",
      pass: out.wrong === 0 && served === rounds,
    },
  ];
}
