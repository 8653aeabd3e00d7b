// Services built at run time for tests: what a descriptor read from
// reflection or a descriptor set looks like, without a generated file.

import {
  create,
  createFileRegistry,
  type DescService,
  setExtension,
} from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import {
  nanorpc,
  NanoRPCMethodOptionsSchema,
} from "../proto/gen/nanorpc_pb.ts";

const NOTE = ".nanorpc_test.Note";

/**
 * `nanorpc_test.Plain` (no `(nanorpc)` options): `Echo(Note) returns
 * (Note)` and `Watch(Note) returns (stream Note)`; and
 * `nanorpc_test.Mixed`, which adds a client-streaming `Upload` and a
 * bidi-streaming `Talk` to a unary `Echo`. `Note` has one field,
 * `string text = 1`. `nanorpc_test.Slashless` has one unary method whose
 * `(nanorpc).request_path` is "api/data" (no leading "/"), and
 * `nanorpc_test.Getter` one free of side effects (Connect's GET):
 * `Get(Note) returns (Note)`.
 */
export function testServices(): {
  plain: DescService;
  mixed: DescService;
  slashless: DescService;
  getter: DescService;
} {
  const options = create(MethodOptionsSchema);
  setExtension(
    options,
    nanorpc,
    create(NanoRPCMethodOptionsSchema, { requestPath: "api/data" }),
  );
  const file = create(FileDescriptorProtoSchema, {
    name: "nanorpc_test/plain.proto",
    package: "nanorpc_test",
    syntax: "proto3",
    messageType: [{
      name: "Note",
      field: [{
        name: "text",
        jsonName: "text",
        number: 1,
        type: FieldDescriptorProto_Type.STRING,
        label: FieldDescriptorProto_Label.OPTIONAL,
      }],
    }],
    service: [{
      name: "Plain",
      method: [
        { name: "Echo", inputType: NOTE, outputType: NOTE },
        {
          name: "Watch",
          inputType: NOTE,
          outputType: NOTE,
          serverStreaming: true,
        },
      ],
    }, {
      name: "Mixed",
      method: [
        { name: "Echo", inputType: NOTE, outputType: NOTE },
        {
          name: "Upload",
          inputType: NOTE,
          outputType: NOTE,
          clientStreaming: true,
        },
        {
          name: "Talk",
          inputType: NOTE,
          outputType: NOTE,
          clientStreaming: true,
          serverStreaming: true,
        },
      ],
    }, {
      name: "Slashless",
      method: [{ name: "Get", inputType: NOTE, outputType: NOTE, options }],
    }, {
      name: "Getter",
      method: [{
        name: "Get",
        inputType: NOTE,
        outputType: NOTE,
        options: {
          idempotencyLevel: MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS,
        },
      }],
    }],
  });
  const registry = createFileRegistry(file, () => undefined);
  return {
    plain: registry.getService("nanorpc_test.Plain")!,
    mixed: registry.getService("nanorpc_test.Mixed")!,
    slashless: registry.getService("nanorpc_test.Slashless")!,
    getter: registry.getService("nanorpc_test.Getter")!,
  };
}
