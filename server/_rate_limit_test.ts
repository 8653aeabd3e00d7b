import assert from "node:assert/strict";
import { FakeTime } from "../testing/mod.ts";
import {
  AddressLimiter,
  RateLimitSettings,
  SessionLimiter,
  TokenBucket,
} from "./_rate_limit.ts";
import { fnv1a } from "../wasm/wire.ts";

Deno.test("TokenBucket gives its burst at once, then one token per 1/rate, never more than the burst", () => {
  const bucket = new TokenBucket({ perSecond: 10, burst: 3 });
  for (let i = 0; i < 3; i++) assert.equal(bucket.tryTake(0), true);
  assert.equal(bucket.wait(0), 100);
  assert.equal(bucket.wait(60), 40);
  assert.equal(bucket.tryTake(100), true);
  // A long pause refills the burst only.
  for (let i = 0; i < 3; i++) assert.equal(bucket.tryTake(60_000), true);
  assert.equal(bucket.tryTake(60_000), false);
});

Deno.test("SessionLimiter takes a path's token only with the session's, and reports a session over its limit too long", () => {
  const limiter = new SessionLimiter(
    new RateLimitSettings({
      perSecond: 10,
      burst: 1,
      closeAfter: 250,
      paths: { "/a": { perSecond: 1, burst: 1 } },
    }),
  );
  const hash = fnv1a("/a");
  assert.equal(limiter.admit(hash, 0), 0);
  // The path's bucket refills after 1 s; the wait ends by closeAfter.
  assert.equal(limiter.admit(hash, 100), 250);
  assert.equal(limiter.admit(7, 100), 0, "other paths: the session's only");
  assert.equal(limiter.admit(hash, 150), 200, "still over: no pause");
  assert.equal(limiter.admit(hash, 350), -1, "over for 250 ms");
});

Deno.test("SessionLimiter counts time over the limit afresh after a pause of a token's time", () => {
  const limiter = new SessionLimiter(
    new RateLimitSettings({
      perSecond: 10,
      burst: 1,
      closeAfter: 1000,
      paths: { "/bonus": { perSecond: 0.1, burst: 1 } },
    }),
  );
  const bonus = fnv1a("/bonus");
  assert.equal(limiter.admit(bonus, 0), 0);
  assert.equal(limiter.admit(7, 0), 100);
  assert.equal(limiter.admit(7, 100), 0);
  // Nothing waited from 100 to 9,500; the next bonus is 500 ms away.
  assert.equal(limiter.admit(bonus, 9500), 500);
  assert.equal(limiter.admit(bonus, 10_000), 0);
});

Deno.test("AddressLimiter keeps one bucket per host, bounded", () => {
  using time = new FakeTime();
  const limiter = new AddressLimiter({ perSecond: 1, burst: 1 });
  const peer = (hostname: string) => ({ transport: "tcp", hostname, port: 1 });
  assert.equal(limiter.admit(peer("10.0.0.1")), true);
  assert.equal(limiter.admit(peer("10.0.0.1")), false);
  assert.equal(limiter.admit(peer("10.0.0.2")), true);
  assert.equal(limiter.admit({ transport: "unix", path: "/s" }), true);
  assert.equal(limiter.admit({ transport: "unix", path: "/t" }), false);
  for (let i = 0; i < 70_000; i++) {
    limiter.admit(peer(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`));
  }
  assert.ok(limiter.size <= 65_536);
  time.tick(1000);
  assert.equal(limiter.admit(peer("10.0.0.1")), true);
});

Deno.test("AddressLimiter admits each new host in amortised constant time while its table is full of busy hosts", () => {
  using _time = new FakeTime(); // No tick: every host stays busy.
  const limiter = new AddressLimiter({ perSecond: 1, burst: 1 });
  const peer = (i: number) => ({
    transport: "tcp",
    hostname: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
    port: 1,
  });
  for (let i = 0; i < 65_536; i++) limiter.admit(peer(i));
  // Count the buckets looked at (each sweep used to look at all 65,536).
  const full = Object.getOwnPropertyDescriptor(TokenBucket.prototype, "full")!;
  let looked = 0;
  TokenBucket.prototype.full = function (now: number) {
    looked++;
    return full.value.call(this, now);
  };
  try {
    for (let i = 65_536; i < 66_536; i++) {
      assert.equal(limiter.admit(peer(i)), true);
      assert.ok(limiter.size <= 65_536);
    }
  } finally {
    Object.defineProperty(TokenBucket.prototype, "full", full);
  }
  assert.ok(
    looked <= 2 * 65_536,
    `${looked} buckets looked at for 1,000 hosts`,
  );
});
