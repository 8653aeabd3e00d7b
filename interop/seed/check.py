"""Reads the seed example's method options back with Google's protobuf.

Run by ``deno task interop`` after protoc compiled ``seed_example.proto``
against ``proto/`` (PYTHONPATH holds the generated ``seed_example_pb2``,
``nanorpc_pb2`` and ``nanopb_pb2``). Prints "CASE: ok" or "CASE: FAIL why"
per case; exits 1 if any failed.
"""

import sys

import nanopb_pb2
import nanorpc_pb2
import seed_example_pb2

METHOD_OPTION = 5020  # (nanorpc) on google.protobuf.MethodOptions


def fields(data):
    """(number, wire type, value) of each field of a protobuf message."""
    at = 0

    def varint():
        nonlocal at
        shift = value = 0
        while True:
            byte = data[at]
            at += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while at < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 2:
            size = varint()
            yield number, wire, bytes(data[at:at + size])
            at += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            yield number, wire, bytes(data[at:at + size])
            at += size
        else:
            raise ValueError(f"wire type {wire} at byte {at}")


def method(name):
    service = seed_example_pb2.DESCRIPTOR.services_by_name["DataService"]
    return service.methods_by_name[name]


def expect(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, wanted {want!r}")


def case_extension():
    ext = nanorpc_pb2.nanorpc
    expect(ext.number, METHOD_OPTION, "number of the (nanorpc) extension")
    expect(ext.full_name, "nanorpc", "full name (the file declares no package)")
    expect(ext.containing_type.full_name, "google.protobuf.MethodOptions",
           "extended message")
    expect(ext.message_type.full_name, "NanoRPCMethodOptions", "option type")


def case_request_path():
    for name, path in (("GetData", "/api/data"),
                       ("WatchData", "/api/data/watch")):
        options = method(name).GetOptions()
        got = options.Extensions[nanorpc_pb2.nanorpc].request_path
        expect(got, path, f"{name} (nanorpc).request_path")
    plain = method("Plain").GetOptions()
    expect(plain.HasExtension(nanorpc_pb2.nanorpc), False, "Plain has (nanorpc)")


def case_request_path_raw():
    """The option in protoc's own output, walked byte by byte: the file's
    service (6) → method (2) named GetData → options (4) → field 5020 →
    request_path (1). No generated extension is involved."""
    paths = []
    for n, w, service in fields(seed_example_pb2.DESCRIPTOR.serialized_pb):
        if n != 6 or w != 2:
            continue
        for n, w, rpc in fields(service):
            if n != 2 or w != 2:
                continue
            name = [v for n, w, v in fields(rpc) if n == 1]
            options = [v for n, w, v in fields(rpc) if n == 4 and w == 2]
            if name != [b"GetData"] or len(options) != 1:
                continue
            for n, w, option in fields(options[0]):
                if n == METHOD_OPTION and w == 2:
                    paths += [v for n, w, v in fields(option) if n == 1]
    expect(paths, [b"/api/data"], f"GetData options field {METHOD_OPTION}.1")


def case_nanopb_options():
    nanopb = nanopb_pb2.nanopb
    request = nanorpc_pb2.NanoRPCRequest.DESCRIPTOR
    response = nanorpc_pb2.NanoRPCResponse.DESCRIPTOR
    path = request.fields_by_name["path"].GetOptions().Extensions[nanopb]
    expect(path.max_size, 50, "NanoRPCRequest.path (nanopb).max_size")
    for message in (request, response):
        data = message.fields_by_name["data"].GetOptions().Extensions[nanopb]
        expect(data.type, nanopb_pb2.FT_CALLBACK,
               f"{message.name}.data (nanopb).type")
    file_options = nanorpc_pb2.DESCRIPTOR.GetOptions()
    long_names = file_options.Extensions[nanopb_pb2.nanopb_fileopt].long_names
    expect(long_names, False, "(nanopb_fileopt).long_names")
    expect(nanorpc_pb2.DESCRIPTOR.package, "", "package of nanorpc.proto")


CASES = [
    ("extension-5020", case_extension),
    ("request-path", case_request_path),
    ("request-path-raw", case_request_path_raw),
    ("nanopb-options", case_nanopb_options),
]


def main():
    failed = 0
    for name, run in CASES:
        try:
            run()
            print(f"{name}: ok")
        except Exception as err:  # report every case, never stop at one
            failed += 1
            print(f"{name}: FAIL {type(err).__name__}: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
