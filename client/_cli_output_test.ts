// The command-line client's protobuf JSON input, against types compiled
// from a .proto file by buf.

import assert from "node:assert/strict";
import { type DescMessage, fromBinary, toJson } from "@bufbuild/protobuf";
import { compileProto } from "./_cli_proto.ts";
import { encodeJson } from "./_cli_output.ts";

const PROTO = `syntax = "proto3";
package wide.v1;
import "google/protobuf/any.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/wrappers.proto";
message Wide {
  message Inner { sint64 s = 1; }
  int64 id = 1;
  repeated uint64 ids = 2;
  map<string, fixed64> counts = 3;
  Inner inner = 4;
  double ratio = 5;
  google.protobuf.Int64Value wrapped = 6;
  google.protobuf.Struct meta = 7;
  repeated google.protobuf.Any any = 8;
  oneof pick { sfixed64 picked = 9; }
}
service Wides { rpc Put(Wide) returns (Wide); }
`;

async function wideType() {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/wide.proto`, PROTO);
    const schema = await compileProto(`${dir}/wide.proto`);
    return {
      registry: schema.registry,
      wide: schema.registry.getMessage("wide.v1.Wide") as DescMessage,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("encodeJson keeps 64-bit integers written as JSON numbers exact, and other numbers numbers", async () => {
  const { registry, wide } = await wideType();
  const big = "9007199254740993"; // 2^53 + 1: a double holds 2^53
  const json = `{
    "id": ${big}, "ids": [18446744073709551615, 1], "counts": {"a": ${big}},
    "inner": {"s": -${big}}, "ratio": ${big}, "wrapped": -${big},
    "meta": {"n": ${big}}, "picked": -${big},
    "any": [
      {"@type": "type.googleapis.com/google.protobuf.Int64Value", "value": ${big}},
      {"@type": "type.googleapis.com/wide.v1.Wide.Inner", "s": ${big}}
    ]
  }`;
  const bytes = encodeJson(wide, json, "DATA", registry);
  assert.deepEqual(toJson(wide, fromBinary(wide, bytes), { registry }), {
    id: big,
    ids: ["18446744073709551615", "1"],
    counts: { a: big },
    inner: { s: `-${big}` },
    ratio: 9007199254740992,
    wrapped: `-${big}`,
    meta: { n: 9007199254740992 },
    picked: `-${big}`,
    any: [
      { "@type": "type.googleapis.com/google.protobuf.Int64Value", value: big },
      { "@type": "type.googleapis.com/wide.v1.Wide.Inner", s: big },
    ],
  });
});
