import assert from "node:assert/strict";
import { ReadonlyMapView } from "./_readonly_map.ts";

Deno.test("ReadonlyMapView reads the live map and cannot change it", () => {
  const map = new Map([[1, "a"]]);
  const view = new ReadonlyMapView(map);
  assert.equal(view.size, 1);
  map.set(2, "b");
  assert.equal(view.size, 2);
  assert.equal(view.get(2), "b");
  assert.equal(view.has(1), true);
  assert.deepEqual([...view], [[1, "a"], [2, "b"]]);
  assert.deepEqual([...view.keys()], [1, 2]);
  assert.deepEqual([...view.values()], ["a", "b"]);
  assert.deepEqual([...view.entries()], [[1, "a"], [2, "b"]]);
  const seen: string[] = [];
  view.forEach(function (this: unknown, value, key, owner) {
    assert.equal(owner, view);
    seen.push(`${key}=${value}`);
  });
  assert.deepEqual(seen, ["1=a", "2=b"]);
  const writable = view as unknown as Partial<Map<number, string>>;
  assert.equal(writable.set, undefined);
  assert.equal(writable.delete, undefined);
  assert.equal(writable.clear, undefined);
  assert.equal(view instanceof Map, false);
});
