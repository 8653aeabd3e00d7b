// Between the Fetch API and connect-es's universal handlers.

import {
  type UniversalServerResponse,
  universalServerResponseToFetch,
} from "@connectrpc/connect/protocol";
import type { RequestInfo } from "../server/http.ts";

/** The body of a request without one. */
export const NO_BODY: AsyncIterable<Uint8Array> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * Aborts when the HTTP client goes away: when `Deno.serve`'s
 * `info.completed` rejects, or -- with `watchSignal` -- when
 * `request.signal` aborts, which is the only notice of a client that left
 * before the answer. (In Deno 2's legacy abort mode `request.signal` also
 * aborts once a response has been delivered, harmless here, and Deno
 * prints a one-time notice when it was read.) The response body aborts it
 * too when it is cancelled.
 */
export function clientGone(
  request: Request,
  info: RequestInfo | undefined,
  watchSignal: boolean,
): AbortController {
  const controller = new AbortController();
  const completed = (info as { completed?: Promise<void> } | undefined)
    ?.completed;
  if (completed instanceof Promise) {
    completed.catch((error) => controller.abort(error));
  }
  if (watchSignal || !(completed instanceof Promise)) {
    const signal = request.signal;
    if (signal.aborted) controller.abort(signal.reason);
    else {
      signal.addEventListener("abort", () => controller.abort(signal.reason), {
        once: true,
      });
    }
  }
  return controller;
}

/**
 * The fetch `Response` of a Connect answer. Unlike connect-es's
 * `universalServerResponseToFetch`, cancelling its body (the client went
 * away) aborts the call at once: an async generator's `throw` waits for
 * the `next` in progress, which for a quiet stream is the next update.
 */
export function toFetchResponse(
  response: UniversalServerResponse,
  gone: AbortController,
): Response {
  const source = response.body;
  if (source === undefined || !(Symbol.asyncIterator in Object(source))) {
    return universalServerResponseToFetch(response);
  }
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await it.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      gone.abort(reason);
      it.throw?.(reason).catch(() => {});
    },
  });
  return new Response(body, {
    status: response.status,
    headers: response.header,
  });
}
