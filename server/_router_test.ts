import assert from "node:assert/strict";
import { fnv1a } from "../wasm/wire.ts";
import { pathMatches, Router } from "./_router.ts";

const encoder = new TextEncoder();

Deno.test("Router.route registers a path once and hands back the same route", () => {
  const router = new Router();
  const route = router.route("/room/send");
  assert.equal(route.path, "/room/send");
  assert.equal(route.hash, fnv1a("/room/send"));
  assert.deepEqual(route.bytes, encoder.encode("/room/send"));
  assert.deepEqual(route.options, {});
  assert.equal(route.handler, undefined);
  assert.equal(route.topic, undefined);
  // A handler and a topic at one path share the route.
  assert.equal(router.route("/room/send"), route);
});

Deno.test("Router.route refuses a path that does not start with a slash", () => {
  const router = new Router();
  for (const path of ["", "room", "room/send"]) {
    assert.throws(
      () => router.route(path),
      (err: Error) =>
        err instanceof TypeError && /paths start with "\/"/.test(err.message),
    );
  }
  assert.throws(() => router.route(42 as unknown as string), TypeError);
  assert.equal(router.lookup(fnv1a("room")), undefined);
});

Deno.test("Router.route refuses a path whose hash collides, naming both paths", () => {
  // Both hash to 0xe0bebf67 (found by a birthday search).
  assert.equal(fnv1a("/p4uzx"), 0xe0bebf67);
  assert.equal(fnv1a("/pf2ad"), 0xe0bebf67);
  const router = new Router();
  const first = router.route("/p4uzx");
  assert.throws(
    () => router.route("/pf2ad"),
    (err: Error) => {
      assert.equal(
        err.message,
        "Path /pf2ad has the same FNV-1a hash (0xe0bebf67) as the registered path /p4uzx: rename one of them",
      );
      return true;
    },
  );
  // The hash still names the first path only.
  assert.equal(router.lookup(0xe0bebf67), first);
});

Deno.test("Router.lookup finds a route by its path hash and nothing else", () => {
  const router = new Router();
  const echo = router.route("/echo");
  const time = router.route("/time");
  assert.equal(router.lookup(fnv1a("/echo")), echo);
  assert.equal(router.lookup(fnv1a("/time")), time);
  assert.equal(router.lookup(fnv1a("/nope")), undefined);
  assert.equal(router.lookup(0), undefined);
});

Deno.test("pathMatches compares the path bytes at an offset exactly", () => {
  const router = new Router();
  const route = router.route("/caf\u00e9");
  const path = encoder.encode("/caf\u00e9");
  const buf = new Uint8Array([0xff, 0xff, ...path, 0xff]);
  assert.equal(pathMatches(route, buf, 2, path.length), true);
  // Shorter, longer, shifted, or one byte off: no match.
  assert.equal(pathMatches(route, buf, 2, path.length - 1), false);
  assert.equal(pathMatches(route, buf, 2, path.length + 1), false);
  assert.equal(pathMatches(route, buf, 1, path.length), false);
  const typo = buf.slice();
  typo[2 + path.length - 1] ^= 1;
  assert.equal(pathMatches(route, typo, 2, path.length), false);
  // The colliding path has the route's hash but not its bytes.
  const other = encoder.encode("/pf2ad");
  assert.equal(
    pathMatches(router.route("/p4uzx"), other, 0, other.length),
    false,
  );
});

Deno.test("Router.lookup finds a path registered after a lookup of its hash missed", () => {
  const router = new Router();
  const hash = fnv1a("/late");
  assert.equal(router.lookup(hash), undefined);
  const late = router.route("/late");
  assert.equal(router.lookup(hash), late);
  assert.equal(router.lookup(hash), late, "asked twice in a row");
});
