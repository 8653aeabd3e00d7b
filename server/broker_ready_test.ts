import assert from "node:assert/strict";
import { InProcessBroker } from "./broker.ts";
import { Server } from "./server.ts";

/** A broker whose subscriptions take until `open()` to be in place. */
class SlowStartBroker extends InProcessBroker {
  #ready = Promise.withResolvers<void>();
  open(): void {
    this.#ready.resolve();
  }
  ready(): Promise<void> {
    return this.#ready.promise;
  }
}

Deno.test("Server.listen waits for the broker's ready() before it resolves", async () => {
  await using broker = new SlowStartBroker();
  const server = new Server({ broker, logLevel: "error" });
  let listening = false;
  const listen = server.listen({ port: 0 }).then((l) => {
    listening = true;
    return l;
  });
  await new Promise((r) => setTimeout(r, 0));
  await Promise.resolve();
  assert.equal(listening, false);
  broker.open();
  const listener = await listen;
  assert.ok((listener.addr as Deno.NetAddr).port > 0);
  await server.shutdown();
});
