import assert from "node:assert/strict";
import {
  create,
  createFileRegistry,
  type DescMethod,
  getOption,
  hasOption,
  toBinary,
} from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  FileDescriptorProtoSchema,
  type MethodOptions,
  MethodOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { Room } from "../proto/gen/chat_pb.ts";
import {
  nanorpc,
  NanoRPCMethodOptionsSchema,
} from "../proto/gen/nanorpc_pb.ts";
import { testServices } from "./_test_utils.ts";
import { requestPathOption } from "./_request_path_option.ts";

const NOTE = ".nanorpc_test.Note";

/** One `(nanorpc)` occurrence: its message bytes, length-prefixed. */
function occurrence(write: (w: BinaryWriter) => void): Uint8Array {
  const body = new BinaryWriter();
  write(body);
  return new BinaryWriter().bytes(body.finish()).finish();
}

const path = (p: string) => (w: BinaryWriter) =>
  w.tag(1, WireType.LengthDelimited).string(p);

/** Methods whose options hold the given raw `(nanorpc)` occurrences. */
function methodsWith(occurrences: Uint8Array[][]): DescMethod[] {
  const method = occurrences.map((list, i) => {
    const options: MethodOptions = create(MethodOptionsSchema);
    options.$unknown = list.map((data) => ({
      no: nanorpc.number,
      wireType: WireType.LengthDelimited,
      data,
    }));
    return { name: `M${i}`, inputType: NOTE, outputType: NOTE, options };
  });
  const file = create(FileDescriptorProtoSchema, {
    name: "nanorpc_test/options.proto",
    package: "nanorpc_test",
    syntax: "proto3",
    messageType: [{ name: "Note" }],
    service: [{ name: "Options", method }],
  });
  return createFileRegistry(file, () => undefined)
    .getService("nanorpc_test.Options")!.methods;
}

function protobufEs(method: DescMethod): string | undefined {
  return hasOption(method, nanorpc)
    ? getOption(method, nanorpc).requestPath
    : undefined;
}

Deno.test("requestPathOption reads what getOption reads from generated and built descriptors", () => {
  const { plain, slashless } = testServices();
  for (
    const method of [...Room.methods, ...plain.methods, ...slashless.methods]
  ) {
    assert.equal(requestPathOption(method), protobufEs(method), method.name);
  }
  assert.equal(requestPathOption(Room.method.send), "/room/send");
  assert.equal(requestPathOption(plain.method.echo), undefined);
});

Deno.test("requestPathOption merges occurrences and skips unknown fields as protobuf-es does", () => {
  const bare = toBinary(
    NanoRPCMethodOptionsSchema,
    create(NanoRPCMethodOptionsSchema, {}),
  );
  const methods = methodsWith([
    [occurrence(path("/a")), occurrence(path("/b"))],
    [occurrence(path("/a")), occurrence(() => {})],
    [new BinaryWriter().bytes(bare).finish()],
    [occurrence((w) => {
      w.tag(2, WireType.Varint).int64(-1n); // Ten bytes on the wire.
      path("/first")(w);
      w.tag(3, WireType.Bit32).fixed32(7);
      w.tag(4, WireType.Bit64).fixed64(9n);
      w.tag(5, WireType.LengthDelimited).bytes(new Uint8Array(3));
      path("/last")(w);
    })],
    [occurrence(path("/π"))],
    [occurrence((w) => {
      path("/before")(w);
      // A group holding a field, a nested group and a path-numbered field.
      w.tag(6, WireType.StartGroup);
      w.tag(1, WireType.Varint).uint32(3);
      w.tag(7, WireType.StartGroup).tag(7, WireType.EndGroup);
      w.tag(1, WireType.LengthDelimited).string("/inside");
      w.tag(6, WireType.EndGroup);
      path("/after")(w);
    })],
  ]);
  const expected = ["/b", "/a", undefined, "/last", "/π", "/after"];
  methods.forEach((method, i) => {
    assert.equal(requestPathOption(method), expected[i], method.name);
    assert.equal(requestPathOption(method), protobufEs(method), method.name);
  });
});

/** `depth` groups, each inside the last, then `/deep`. */
function nested(w: BinaryWriter, depth: number): void {
  for (let i = 0; i < depth; i++) w.tag(6, WireType.StartGroup);
  for (let i = 0; i < depth; i++) w.tag(6, WireType.EndGroup);
  path("/deep")(w);
}

Deno.test("requestPathOption skips groups nested as deep as protobuf-es allows", () => {
  const [method] = methodsWith([[occurrence((w) => nested(w, 99))]]);
  assert.equal(requestPathOption(method), "/deep");
  assert.equal(protobufEs(method), "/deep");
});

Deno.test("requestPathOption refuses an unclosed or mismatched group, field number 0, and groups nested deeper than protobuf-es allows", () => {
  const methods = methodsWith([
    [occurrence((w) => w.tag(6, WireType.StartGroup).tag(1, WireType.Varint))],
    [occurrence((w) =>
      w.tag(6, WireType.StartGroup).tag(5, WireType.EndGroup)
    )],
    [occurrence((w) => w.tag(6, WireType.EndGroup))],
    // Field number 0 is illegal, in a group too.
    [occurrence((w) => w.tag(0, WireType.Varint).uint32(1))],
    [occurrence((w) => w.tag(6, WireType.StartGroup).tag(0, WireType.Varint))],
    // 100 nested groups: one more than protobuf-es allows.
    [occurrence((w) => nested(w, 100))],
  ]);
  for (const method of methods) {
    assert.throws(() => requestPathOption(method), /is malformed/, method.name);
    assert.throws(() => protobufEs(method), Error, method.name);
  }
});

Deno.test("requestPathOption refuses truncated option bytes, naming the method", () => {
  const whole = occurrence(path("/truncated"));
  const [method] = methodsWith([[whole.subarray(0, whole.length - 2)]]);
  assert.throws(
    () => requestPathOption(method),
    /\(nanorpc\) option of nanorpc_test\.Options\.M0 is malformed; regenerate nanorpc_test\/options\.proto/,
  );
});
