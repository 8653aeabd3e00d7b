// `deno task call --proto`: .proto files compiled by the buf binary of the
// npm package, with imports found as protoc -I finds them.

import assert from "node:assert/strict";
import { compileProto } from "./_cli_proto.ts";
import { SchemaError } from "./_cli_schema.ts";

const OUR_NANOPB = new URL("../proto/nanopb.proto", import.meta.url);

Deno.test("compileProto takes each import from the first folder that has it, as protoc -I does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/app`);
    await Deno.mkdir(`${dir}/inc`);
    // A nanopb user's own copy of nanopb.proto, beside the file.
    await Deno.copyFile(OUR_NANOPB, `${dir}/app/nanopb.proto`);
    const common = (name: string) =>
      `syntax = "proto3";\npackage common;\nmessage ${name} { string id = 1; }\n`;
    await Deno.writeTextFile(`${dir}/app/common.proto`, common("Near"));
    await Deno.writeTextFile(`${dir}/inc/common.proto`, common("Far"));
    await Deno.writeTextFile(
      `${dir}/app/dev.proto`,
      `syntax = "proto3";
package dev;
import "nanopb.proto"; // the copy beside this file
import "nanorpc.proto";
import /* protoc takes the first */ "common.proto";
message Reading { string name = 1 [(nanopb).max_size = 16]; common.Near at = 2; }
service Dev {
  rpc Read(Reading) returns (Reading) { option (nanorpc).request_path = "/dev/read"; }
}
`,
    );
    const schema = await compileProto(`${dir}/app/dev.proto`, [`${dir}/inc`]);
    assert.deepEqual(schema.paths.map((p) => [p.path, p.input?.typeName]), [
      ["/dev/read", "dev.Reading"],
    ]);
    assert.ok(schema.registry.getMessage("common.Near"));
    assert.equal(schema.registry.getMessage("common.Far"), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compileProto names the real file in buf's errors and says where imports are searched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(
      `${dir}/root.proto`,
      'syntax = "proto3";\nimport "sub/bad.proto";\nimport "missing.proto";\n',
    );
    await Deno.writeTextFile(
      `${dir}/sub/bad.proto`,
      'syntax = "proto3";\nmessage {',
    );
    const error = await compileProto(`${dir}/root.proto`).then(
      () => assert.fail("compiled"),
      (error) => error,
    );
    assert.ok(error instanceof SchemaError);
    assert.match(error.message, new RegExp(`${dir}/sub/bad\\.proto:2:`));
    assert.match(error.message, /missing\.proto/);
    assert.match(error.message, /each --import-path/);
    assert.doesNotMatch(error.message, /nanorpc-proto-/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
