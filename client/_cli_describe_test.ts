// `deno task call --describe`: messages in .proto syntax.

import assert from "node:assert/strict";
import { create, createFileRegistry } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { messageLines } from "./_cli_describe.ts";

const { OPTIONAL, REQUIRED, REPEATED } = FieldDescriptorProto_Label;
const { STRING, INT32, ENUM } = FieldDescriptorProto_Type;

Deno.test("messageLines shows which fields are required or optional, and proto2 defaults", () => {
  const file = create(FileDescriptorProtoSchema, {
    name: "legacy.proto",
    package: "legacy",
    syntax: "proto2",
    enumType: [{
      name: "Kind",
      value: [{ name: "KIND_A", number: 1 }, { name: "KIND_B", number: 2 }],
    }],
    messageType: [{
      name: "Req",
      field: [
        { name: "id", number: 1, type: STRING, label: REQUIRED },
        {
          name: "n",
          number: 2,
          type: INT32,
          label: OPTIONAL,
          defaultValue: "7",
        },
        {
          name: "kind",
          number: 3,
          type: ENUM,
          typeName: ".legacy.Kind",
          label: OPTIONAL,
          defaultValue: "KIND_B",
        },
        { name: "tags", number: 4, type: STRING, label: REPEATED },
      ],
    }],
  });
  const req = createFileRegistry(file, () => undefined).getMessage(
    "legacy.Req",
  )!;
  assert.deepEqual(messageLines(req), [
    "message Req {",
    "  required string id = 1;",
    "  optional int32 n = 2 [default = 7];",
    "  optional legacy.Kind kind = 3 [default = KIND_B];",
    "  repeated string tags = 4;",
    "}",
  ]);
});
