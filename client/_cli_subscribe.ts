// `deno task call --subscribe`: prints every update until Ctrl-C, until
// the subscription ends, or until stdout's reader goes away (`| head -1`).

import type { Client } from "./client.ts";
import { type Output, print } from "./_cli_output.ts";
import type { PathInfo } from "./_cli_schema.ts";

/**
 * Subscribes to `path` with `filter` and prints each update.
 *
 * @returns 0 after Ctrl-C (SIGINT, SIGTERM) or once stdout is closed.
 * @throws {Error} What ended the subscription, when it ended by itself.
 */
export async function subscribe(
  client: Client,
  path: string,
  filter: Uint8Array,
  out: Output,
  info: PathInfo | undefined,
): Promise<number> {
  client.addEventListener("disconnect", (event) => {
    if (!event.error) return; // Closed on purpose.
    console.error(`connection lost (${event.error.message}); reconnecting`);
  });
  client.addEventListener("reconnect", () => {
    console.error(`reconnected; resubscribing to ${path}`);
  });
  let failed: Error | undefined;
  const stop = Promise.withResolvers<void>();
  const subscription = await client.subscribe(path, filter, {
    onUpdate: (update) => {
      print(out, update, info?.output);
      // Nobody reads what is printed any more: stop, as Ctrl-C does.
      if (out.closed) stop.resolve();
    },
    onError: (error) => failed = error,
  });
  console.error(`subscribed to ${path}; Ctrl-C to stop`);
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  for (const signal of signals) Deno.addSignalListener(signal, stop.resolve);
  // Ends on a signal, or when the subscription ends by itself.
  const ended = (async () => {
    for await (const _ of subscription) { /* updates go to onUpdate */ }
  })().catch((error) => failed ??= error);
  await Promise.race([stop.promise, ended]);
  for (const signal of signals) {
    Deno.removeSignalListener(signal, stop.resolve);
  }
  if (failed) throw failed;
  await subscription.unsubscribe().catch(() => {});
  return 0;
}
