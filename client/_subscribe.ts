/**
 * The last step of `Client.subscribe`, once its arguments are checked:
 * registers the subscription with the link (which sends SUBSCRIBE when
 * connected) and traces it. A typed subscription needs protobuf-es to
 * decode its updates; the first one waits for it to load before its
 * SUBSCRIBE goes out, so no update arrives that cannot be decoded.
 *
 * @module
 */

import type { DescMessage } from "@bufbuild/protobuf";
import {
  loadProtobuf,
  type Protobuf,
  protobuf,
} from "../protocol/_protobuf.ts";
import { ConnectionClosedError } from "./errors.ts";
import type { Link } from "./_link.ts";
import { messageDecoder } from "./_protobuf.ts";
import { SubscriptionImpl, type SubscriptionInit } from "./_subscription.ts";
import type { ClientSubscription } from "./subscription.ts";
import { traced } from "./_tracing.ts";

/**
 * Starts the subscription `init` describes on `link`; with `output`, its
 * updates are decoded as that schema.
 *
 * @returns Settles with the first ack (see `SubscriptionImpl.ready`).
 */
export function startSubscription(
  link: Link,
  init: SubscriptionInit<unknown>,
  output: DescMessage | undefined,
): Promise<ClientSubscription<unknown>> {
  if (!output) return start(link, init);
  const typed = (pb: Protobuf) =>
    start(link, { ...init, decode: messageDecoder(pb, output, init.path) });
  const pb = protobuf();
  if (pb) return typed(pb);
  const { signal } = init.options;
  return loadProtobuf().then((pb) => {
    if (link.state === "closed") throw new ConnectionClosedError();
    if (signal?.aborted) throw signal.reason;
    return typed(pb);
  });
}

function start(
  link: Link,
  init: SubscriptionInit<unknown>,
): Promise<ClientSubscription<unknown>> {
  const subscription = link.subscribe((host, id) =>
    new SubscriptionImpl<unknown>(host, id, init)
  );
  const { tracer } = link.settings;
  const { path } = init;
  const { ready } = subscription;
  return tracer ? traced(tracer, `SUBSCRIBE ${path}`, path, ready) : ready;
}
