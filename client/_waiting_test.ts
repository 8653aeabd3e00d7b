import assert from "node:assert/strict";
import { PATH_STRING } from "../wasm/codec.ts";
import { RequestType } from "../wasm/wire.ts";
import { Call } from "./_call.ts";
import { Waiting } from "./_waiting.ts";
import { NotConnectedError } from "./errors.ts";

function call(label: string): Call {
  return new Call({
    type: RequestType.REQUEST,
    pathKind: PATH_STRING,
    pathHash: 0,
    path: new TextEncoder().encode(label),
    data: new Uint8Array(0),
  }, label);
}

Deno.test("Waiting keeps calls in order, puts requeued ones first, and lets settled ones leave", async () => {
  const waiting = new Waiting();
  const [a, b, c, d] = ["a", "b", "c", "d"].map(call);
  waiting.add(a);
  waiting.add(b);
  waiting.addFirst([c, d]);
  assert.equal(waiting.size, 4);
  b.reject(new Error("timed out while waiting"));
  await b.promise.catch(() => {});
  assert.deepEqual(waiting.take().map((x) => x.label), ["c", "d", "a"]);
  assert.equal(waiting.size, 0);
});

Deno.test("Waiting admits calls up to its bound and rejects the next with NotConnectedError", async () => {
  const waiting = new Waiting();
  const [a, b, c] = ["a", "b", "c"].map(call);
  waiting.admit(a, 2);
  waiting.admit(b, 2);
  waiting.admit(c, 2);
  await assert.rejects(c.promise, NotConnectedError);
  await assert.rejects(c.promise, /2 requests are already waiting/);
  assert.deepEqual(waiting.take().map((x) => x.label), ["a", "b"]);
});
