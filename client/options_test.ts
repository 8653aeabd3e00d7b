// Option checks: an option out of range fails at once, naming itself.

import assert from "node:assert/strict";
import { Client } from "./client.ts";
import type { ClientOptions } from "./options.ts";
import { clientWithRawServer } from "../testing/mod.ts";

const ADDRESS = "tcp://127.0.0.1:1";

Deno.test("Client rejects options out of range with a RangeError naming the option", () => {
  const bad: [ClientOptions, RegExp][] = [
    [{ keepalive: { interval: 0 } }, /keepalive\.interval/],
    [{ keepalive: { timeout: -1 } }, /keepalive\.timeout/],
    [{ keepalive: { interval: NaN } }, /keepalive\.interval/],
    [{ reconnect: { initial: 0 } }, /initial/],
    [{ reconnect: { initial: 100, max: 50 } }, /initial <= max/],
    [{ reconnect: { maxAttempts: -1 } }, /maxAttempts/],
    [{ timeout: -1 }, /timeout/],
    [{ connectTimeout: NaN }, /connectTimeout/],
    [{ maxMessageSize: 0 }, /maxMessageSize/],
    [{ maxRequestSize: 1.5 }, /maxRequestSize/],
    [{ queueSize: -1 }, /queueSize/],
    [{ maxAbandonedRequests: -1 }, /maxAbandonedRequests/],
    [{ maxUnsentBytes: 0 }, /maxUnsentBytes/],
  ];
  for (const [options, name] of bad) {
    assert.throws(
      () => new Client(ADDRESS, options),
      (e: unknown) => e instanceof RangeError && name.test(e.message),
      JSON.stringify(options),
    );
  }
});

Deno.test("Client rejects a request or subscription whose own options are out of range", async () => {
  await using t = await clientWithRawServer();
  await assert.rejects(
    t.client.request("/x", undefined, { timeout: -5 }),
    (e: unknown) => e instanceof RangeError && /timeout/.test(e.message),
  );
  await assert.rejects(t.client.ping({ timeout: NaN }), RangeError);
  await assert.rejects(
    t.client.subscribe("/t", undefined, { bufferSize: 0 }),
    (e: unknown) => e instanceof RangeError && /bufferSize/.test(e.message),
  );
  await assert.rejects(
    t.client.subscribe("/t", undefined, { timeout: -1 }),
    RangeError,
  );
  assert.equal(t.client.pending, 0);
});
