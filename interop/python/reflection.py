"""Reads a NanoRPC server's reflection with Google's protobuf runtime.

Usage: reflection.py tcp HOST PORT | reflection.py unix PATH

Asks `/_nanorpc/reflection` (proto/nanorpc_reflection.proto) and checks the
answer with classes protoc generated from our .proto files, then talks to
the demo room with message classes built only from the descriptors the
server sent (a fresh DescriptorPool, message_factory, json_format): what a
grpcurl-like tool written in Python would do. Prints "CASE: ok" or
"CASE: FAIL why" per case; exits 1 if any failed.
"""

import sys

from google.protobuf import descriptor_pool, json_format, message_factory
from google.protobuf.unknown_fields import UnknownFieldSet

import nanorpc_pb2
import nanorpc_reflection_pb2
from wire import (
    OK,
    REQUEST,
    RESPONSE,
    SUBSCRIBE,
    UPDATE,
    Conn,
    PeerError,
    fnv1a,
)

PATH = "/_nanorpc/reflection"
Reflection = nanorpc_reflection_pb2.ReflectionResponse
KIND = nanorpc_reflection_pb2.ReflectionPath
ROOM = "nanorpc_demo.Room"


def check(cond, why):
    if not cond:
        raise PeerError(why)


def reflect(addr):
    """The server's reflection answer, parsed strictly."""
    with Conn(addr) as c:
        c.request(request_id=1, request_type=REQUEST, path=PATH)
        msg = c.expect(1, RESPONSE, OK)
    answer = Reflection()
    answer.ParseFromString(msg.data)
    check(len(UnknownFieldSet(answer)) == 0, "the answer has unknown fields")
    for row in answer.paths:
        check(len(UnknownFieldSet(row)) == 0, f"{row.path} has unknown fields")
    return answer


def pool_of(answer):
    """A fresh pool holding exactly the files the server sent, in order."""
    pool = descriptor_pool.DescriptorPool()
    for file in answer.files.file:
        pool.Add(file)
        pool.FindFileByName(file.name)  # builds it: fails if an import is missing
    return pool


def row(answer, path, kind):
    found = [r for r in answer.paths if r.path == path and r.kind == kind]
    check(len(found) == 1, f"{path} ({KIND.Kind.Name(kind)}) is not in the table")
    return found[0]


def case_table(addr):
    answer = reflect(addr)
    keys = [(r.path, r.kind) for r in answer.paths]
    check(keys == sorted(keys), f"the table is not sorted: {keys}")
    for r in answer.paths:
        check(r.path_hash == fnv1a(r.path), f"{r.path}: hash {r.path_hash:#x}")
    want = {
        "/room/join": (KIND.KIND_REQUEST, "nanorpc_demo.ChatJoin", "nanorpc_demo.ChatAck", "", ""),
        "/room/send": (KIND.KIND_REQUEST, "nanorpc_demo.ChatMessage", "nanorpc_demo.ChatAck", "", ""),
        "/room/messages": (KIND.KIND_TOPIC, "", "", "nanorpc_demo.ChatFilter", "nanorpc_demo.ChatMessage"),
        "/echo": (KIND.KIND_REQUEST, "", "", "", ""),
    }
    for path, (kind, inp, out, flt, upd) in want.items():
        r = row(answer, path, kind)
        got = (r.input_type, r.output_type, r.filter_type, r.update_type)
        check(got == (inp, out, flt, upd), f"{path}: types {got}")


def case_files(addr):
    answer = reflect(addr)
    names = [f.name for f in answer.files.file]
    check(len(set(names)) == len(names), f"a file comes twice: {names}")
    for i, file in enumerate(answer.files.file):
        for dep in file.dependency:
            check(dep in names[:i], f"{file.name} comes before its import {dep}")
    pool = pool_of(answer)
    for r in answer.paths:
        for name in (r.input_type, r.output_type, r.filter_type, r.update_type):
            if name:
                pool.FindMessageTypeByName(name)
    room = pool.FindServiceByName(ROOM)
    check(
        [m.name for m in room.methods] == ["Join", "Send", "Messages"],
        f"Room's methods: {[m.name for m in room.methods]}",
    )


def case_request_paths(addr):
    """Each method's (nanorpc).request_path names the table row of the method."""
    answer = reflect(addr)
    chat = [f for f in answer.files.file if f.name == "chat.proto"]
    check(len(chat) == 1, "chat.proto is not in the files")
    (service,) = [s for s in chat[0].service if s.name == "Room"]
    for method in service.method:
        path = method.options.Extensions[nanorpc_pb2.nanorpc].request_path
        rows = [r for r in answer.paths if r.method == f"{ROOM}.{method.name}"]
        check(len(rows) == 1, f"no single row for {ROOM}.{method.name}")
        check(rows[0].path == path, f"{method.name}: option {path}, table {rows[0].path}")
        streaming = method.server_streaming
        want = KIND.KIND_TOPIC if streaming else KIND.KIND_REQUEST
        check(rows[0].kind == want, f"{method.name}: kind {rows[0].kind}")


def case_typed_round_trip(addr):
    """Join, subscribe with a filter and send, with classes from reflection."""
    answer = reflect(addr)
    pool = pool_of(answer)
    types = {r.path: r for r in answer.paths}

    def cls(name):
        return message_factory.GetMessageClass(pool.FindMessageTypeByName(name))

    join, send, room = types["/room/join"], types["/room/send"], types["/room/messages"]
    with Conn(addr) as sender, Conn(addr) as watcher:
        flt = json_format.Parse('{"from": "py-reflect"}', cls(room.filter_type)())
        watcher.request(request_id=5, request_type=SUBSCRIBE, path=room.path,
                        data=flt.SerializeToString())
        watcher.expect(5, RESPONSE, OK)
        hello = json_format.Parse('{"name": "py-reflect"}', cls(join.input_type)())
        sender.request(request_id=1, request_type=REQUEST, path_hash=join.path_hash,
                       data=hello.SerializeToString())
        ack = sender.expect(1, RESPONSE, OK)
        cls(join.output_type).FromString(ack.data)
        text = json_format.Parse('{"text": "typed by reflection"}', cls(send.input_type)())
        sender.request(request_id=2, request_type=REQUEST, path=send.path,
                       data=text.SerializeToString())
        sender.expect(2, RESPONSE, OK)
        update = watcher.expect(5, UPDATE, OK)
        got = json_format.MessageToDict(cls(room.update_type).FromString(update.data))
        check(got == {"from": "py-reflect", "text": "typed by reflection"}, f"update {got}")


CASES = [
    ("reflection-table", case_table),
    ("reflection-files", case_files),
    ("reflection-request-paths", case_request_paths),
    ("reflection-typed-round-trip", case_typed_round_trip),
]


def main(argv):
    if argv[:1] == ["tcp"] and len(argv) == 3:
        addr = ("tcp", (argv[1], int(argv[2])))
    elif argv[:1] == ["unix"] and len(argv) == 2:
        addr = ("unix", argv[1])
    else:
        sys.exit(__doc__)
    failed = 0
    for name, fn in CASES:
        try:
            fn(addr)
            print(f"{name}: ok", flush=True)
        except Exception as err:  # a case's failure must not stop the others
            failed += 1
            print(f"{name}: FAIL {type(err).__name__}: {err}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
