// The shape of the package: what mod.ts exports, and the layering rules
// the source follows. These guard the architecture, not behaviour.

import assert from "node:assert/strict";
import * as mod from "./mod.ts";

const root = new URL(".", import.meta.url);

async function sources(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const name = `${dir}${entry.name}`;
    if (entry.isDirectory) {
      if (entry.name !== "assembly") files.push(...await sources(`${name}/`));
      continue;
    }
    if (name.endsWith(".ts") && !name.endsWith("_test.ts")) files.push(name);
  }
  return files;
}

Deno.test("mod.ts exports no class with a member whose name starts with _", () => {
  const stops: unknown[] = [
    Object.prototype,
    EventTarget.prototype,
    Error.prototype,
    Event.prototype,
  ];
  const found: string[] = [];
  for (const [name, value] of Object.entries(mod)) {
    if (typeof value !== "function" || !value.prototype) continue;
    for (
      let p = value.prototype;
      p && !stops.includes(p);
      p = Object.getPrototypeOf(p)
    ) {
      for (const key of Object.getOwnPropertyNames(p)) {
        if (key.startsWith("_")) found.push(`${name}.${key}`);
      }
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("server/ never imports client/ and client/ never imports server/", async () => {
  const found: string[] = [];
  for (
    const [dir, other] of [["server/", "../client/"], ["client/", "../server/"]]
  ) {
    for (const file of await sources(dir)) {
      const text = await Deno.readTextFile(new URL(file, root));
      if (text.includes(`from "${other}`)) found.push(file);
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("no hand-written source file in server/, client/ or wasm/ is over 400 lines", async () => {
  const found: string[] = [];
  for (
    const dir of [
      "server/",
      "client/",
      "wasm/",
      "wasm/assembly/",
      "transport/",
      "protocol/",
    ]
  ) {
    const files = dir === "wasm/assembly/"
      ? [...Deno.readDirSync(new URL(dir, root))].map((e) => `${dir}${e.name}`)
      : await sources(dir);
    for (const file of files) {
      if (file.includes(".generated.") || file.endsWith("_test.ts")) continue;
      const lines = (await Deno.readTextFile(new URL(file, root))).split("\n");
      if (lines.length > 401) found.push(`${file}: ${lines.length - 1}`);
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("deno.json exports the server and the client as their own entries", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", root)),
  );
  assert.equal(config.exports["./server"], "./server/mod.ts");
  assert.equal(config.exports["./client"], "./client/mod.ts");
});

// V8 keeps the text of every module it loads on its heap, one byte per
// character only when every character is Latin-1: one "…" in a comment
// doubles the module's share of a server's old generation (issue #16:
// RSS). Write "...", "->", "--", ">=" in comments and \u escapes in strings.
Deno.test("the library's modules and the browser bundle are Latin-1 text", async () => {
  const found: string[] = [];
  const files = ["server/static/nanorpc.generated.js"];
  for (
    const dir of [
      "server/",
      "client/",
      "transport/",
      "protocol/",
      "wasm/",
      "cluster/",
      "gateway/",
    ]
  ) files.push(...await sources(dir));
  const wide = /[\u0100-\u{10ffff}]/u;
  for (const file of files) {
    const lines = (await Deno.readTextFile(new URL(file, root))).split("\n");
    const i = lines.findIndex((line) => wide.test(line));
    if (i >= 0) {
      found.push(
        `${file}:${i + 1}: ${JSON.stringify(lines[i].match(wide)![0])}`,
      );
    }
  }
  assert.deepEqual(found, []);
});
