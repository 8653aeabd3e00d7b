/**
 * Test fixture: a Worker that runs one {@link BroadcastChannelBroker} and
 * does what the test's messages say. Not part of the package.
 *
 * @module
 */

import { BroadcastChannelBroker } from "./broadcast_channel_broker.ts";

/** What the test asks of the worker. */
export type WorkerCommand =
  | { op: "open"; name: string }
  | { op: "subscribe"; channel: string }
  | { op: "publish"; channel: string; count: number; turns?: boolean }
  | { op: "block"; flag: SharedArrayBuffer }
  | { op: "stats" }
  | { op: "close" };

const self = globalThis as unknown as {
  onmessage: (e: MessageEvent<WorkerCommand & { id: number }>) => void;
  postMessage(message: unknown): void;
};
let broker: BroadcastChannelBroker | undefined;
const got: Record<string, number[]> = {};
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

/** Lets a macrotask pass without timer clamping. */
function nextTurn(): Promise<void> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

async function run(command: WorkerCommand): Promise<unknown> {
  switch (command.op) {
    case "open":
      broker = new BroadcastChannelBroker({
        name: command.name,
        logger: quiet,
      });
      return;
    case "subscribe":
      got[command.channel] = [];
      broker!.subscribe(command.channel, (m) => {
        got[command.channel].push(
          new DataView(m.data.buffer, m.data.byteOffset).getUint32(0),
        );
      });
      return;
    case "publish":
      for (let i = 0; i < command.count; i++) {
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, i);
        broker!.publish(command.channel, { path: "/p", data });
        if (command.turns) await nextTurn();
      }
      return;
    case "block": {
      const flag = new Int32Array(command.flag);
      Atomics.store(flag, 1, 1); // blocked
      while (Atomics.load(flag, 0) === 0) { /* busy: no turn passes */ }
      return;
    }
    case "stats":
      return { stats: broker!.stats, got };
    case "close":
      await broker?.close();
      return;
  }
}

self.onmessage = async (e) => {
  const result = await run(e.data);
  self.postMessage({ id: e.data.id, result });
};
