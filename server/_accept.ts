// The accept loop of one listener. A failed accept (out of file
// descriptors, say) is logged and retried with a growing pause, so the
// listener recovers once the cause goes away.

import type { ByteStream } from "../transport/byte_stream.ts";
import { errorMessage } from "./_core.ts";
import type { OpenListener } from "./listener.ts";
import type { Logger } from "./logger.ts";

export interface AcceptHost {
  stopping(): boolean;
  logger: Logger;
  /** Serves one accepted peer until it leaves. */
  open(stream: ByteStream): Promise<void>;
}

/** Accepts until the listener closes or the server stops. */
export async function acceptLoop(
  listener: OpenListener,
  host: AcceptHost,
): Promise<void> {
  let pause = 5;
  while (!host.stopping()) {
    let stream: ByteStream;
    try {
      stream = await listener.accept();
    } catch (err) {
      if (
        host.stopping() || err instanceof Deno.errors.BadResource ||
        err instanceof Deno.errors.Interrupted
      ) return;
      host.logger.error(
        `listener ${listener.url}: accept failed (${
          errorMessage(err)
        }); retrying in ${pause} ms`,
      );
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 1000);
      continue;
    }
    pause = 5;
    host.open(stream).catch((err) => {
      host.logger.error(`session failed: ${errorMessage(err)}`);
    });
  }
}
