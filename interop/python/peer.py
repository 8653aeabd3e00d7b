"""Google-protobuf peer: runs every interop case against a NanoRPC server.

Usage: peer.py tcp HOST PORT | peer.py unix PATH | peer.py ws URL
       | peer.py serial PATH  [--only NAME,NAME] [--seed N]

Prints one line per case, "NAME: ok" or "NAME: FAIL why", and exits 1 when
any case failed. Each case uses its own connections, so a failure in one
does not leak into the next.

Over ``ws`` every write is cut at random points into binary messages (the
seed is printed; ``--seed`` replays a run). A ``serial`` line is one session
with no connection to close, so it runs the cases that need one session
only, and, instead of the malformed cases (which expect a close), the
``resync-*`` cases: the same bad bytes, a quiet gap, and the session goes on.
"""

import os
import random
import sys
import time

import chat_pb2
import extras_pb2
from google.protobuf.unknown_fields import UnknownFieldSet
from wire import (
    NOT_FOUND,
    OK,
    PING,
    PONG,
    REQUEST,
    RESPONSE,
    SUBSCRIBE,
    UPDATE,
    Conn,
    PeerError,
    Request,
    describe,
    encode,
    fnv1a,
    frame,
    hexdump,
    non_canonical,
    varint,
)
from links import WebSocketLink, serial_line

ROOM = "/room/messages"
INT32_IDS = [0, 1, 2147483647, -1, -2147483648]
# 1 MiB is the server's default maxMessageSize; leave room for the envelope.
BIG = 1024 * 1024 - 64
# A serial line moves ~11 KiB/s at 115200 baud: a big frame there is 4 KiB.
SERIAL_BIG = 4096
# Longer than the server's quiet gap at 115200 baud (20 ms), with margin.
QUIET_GAP = 0.2

CASES = []


def case(fn):
    CASES.append((fn.__name__.replace("_", "-"), fn))
    return fn


def check(cond, why):
    if not cond:
        raise PeerError(why)


@case
def ping(addr):
    with Conn(addr) as c:
        for rid in INT32_IDS:
            msg = c.ping(rid)
            check(msg.data == b"" and msg.response_message == "", f"PONG carries extras: {describe(msg)}")
        c.ping(8)


def echo_cases(addr, target):
    big = SERIAL_BIG if addr[0] == "serial" else BIG
    payloads = [b"", b"hello \x00\xff nanorpc", os.urandom(big)]
    with Conn(addr) as c:
        for i, data in enumerate(payloads):
            rid = 100 + i
            c.request(request_id=rid, request_type=REQUEST, data=data, **target)
            msg = c.expect(rid, RESPONSE, OK)
            check(msg.data == data, f"echo of {len(data)} bytes came back as {hexdump(msg.data)}")


@case
def echo_by_path(addr):
    echo_cases(addr, {"path": "/echo"})


@case
def echo_by_hash(addr):
    echo_cases(addr, {"path_hash": fnv1a("/echo")})


def not_found(addr, target):
    with Conn(addr) as c:
        c.request(request_id=-5, request_type=REQUEST, data=b"x", **target)
        msg = c.expect(-5, RESPONSE, NOT_FOUND)
        check(msg.response_message != "", "NOT_FOUND without a response_message")
        check(msg.data == b"", f"NOT_FOUND with data {hexdump(msg.data)}")
        c.ping(6)  # the session goes on


@case
def not_found_by_path(addr):
    not_found(addr, {"path": "/no/such/path/\u00e9\u6f22"})


@case
def not_found_by_hash(addr):
    not_found(addr, {"path_hash": fnv1a("/no/such/hash")})


def extras(**fields):
    body = extras_pb2.RequestWithExtras(**fields).SerializeToString()
    seen = UnknownFieldSet(Request.FromString(body))
    return body, len(seen)


ALL_EXTRAS = dict(
    extra_varint=2**63 + 5,
    extra_fixed64=0x0102030405060708,
    extra_bytes=b"\x00unknown\xff",
    extra_fixed32=0xDEADBEEF,
    extra_zigzag=-(2**62),
    extra_float=1.5,
    extra_double=-2.25,
    extra_string="max field number",
    extra_message=extras_pb2.ExtraNested(a=-1, b="nested"),
)


@case
def unknown_fields(addr):
    with Conn(addr) as c:
        body, unknown = extras(request_id=41, request_type=PING, **ALL_EXTRAS)
        check(unknown == 9, f"oracle sees {unknown} unknown fields, wanted 9")
        c.send(frame(body))
        c.expect(41, PONG, OK)
        body, _ = extras(request_id=42, request_type=REQUEST, path="/echo", data=b"kept", **ALL_EXTRAS)
        c.send(frame(body))
        msg = c.expect(42, RESPONSE, OK)
        check(msg.data == b"kept", f"echo with unknown fields returned {hexdump(msg.data)}")


@case
def any_order(addr):
    """Unknown fields and data before the id, type and path."""
    first, _ = extras(data=b"data first", extra_bytes=b"x", extra_fixed32=7)
    second = Request(request_id=-43, request_type=REQUEST, path_hash=fnv1a("/echo")).SerializeToString()
    body = first + second
    oracle = Request.FromString(body)
    check(oracle.data == b"data first" and oracle.request_id == -43, "oracle disagrees")
    with Conn(addr) as c:
        c.send(frame(body))
        msg = c.expect(-43, RESPONSE, OK)
        check(msg.data == b"data first", f"got data {hexdump(msg.data)}")


def last_wins(addr, parts, want_id):
    """Concatenated encodings merge: for scalars and the oneof, last wins."""
    body = b"".join(Request(**p).SerializeToString() for p in parts)
    oracle = Request.FromString(body)
    check(oracle.WhichOneof("path_oneof") is not None, "oracle lost the path")
    with Conn(addr) as c:
        c.send(frame(body))
        msg = c.expect(want_id, RESPONSE, OK)
        check(msg.data == oracle.data, f"got data {hexdump(msg.data)}")


@case
def last_wins_path(addr):
    last_wins(addr, [dict(path="/nope"), dict(request_id=51, request_type=REQUEST, path="/echo", data=b"p")], 51)


@case
def last_wins_path_then_hash(addr):
    last_wins(addr, [dict(request_id=52, request_type=REQUEST, path="/nope", data=b"h"), dict(path_hash=fnv1a("/echo"))], 52)


@case
def last_wins_hash_then_path(addr):
    last_wins(addr, [dict(request_id=53, request_type=REQUEST, path_hash=fnv1a("/nope")), dict(path="/echo", data=b"q")], 53)


@case
def last_wins_scalars(addr):
    parts = [
        dict(request_id=1, request_type=PING, path="/echo", data=b"old"),
        dict(request_id=-54, request_type=REQUEST, data=b"new"),
    ]
    last_wins(addr, parts, -54)


@case
def pipelining_1000(addr):
    frames, want = [], []
    echo = fnv1a("/echo")
    for i in range(1000):
        rid = i * 2147 - 1_000_000
        if i % 3 == 0:
            frames.append(encode(request_id=rid, request_type=PING))
            want.append((rid, PONG, b""))
        else:
            data = i.to_bytes(2, "big") * (i % 7)
            frames.append(encode(request_id=rid, request_type=REQUEST, path_hash=echo, data=data))
            want.append((rid, RESPONSE, data))
    with Conn(addr) as c:
        c.send(b"".join(frames))
        for n, (rid, rtype, data) in enumerate(want):
            msg = c.read()
            got = (msg.request_id, msg.response_type, msg.data)
            check(msg.response_status == OK, f"response {n}: {describe(msg)}")
            check(got == (rid, rtype, data), f"response {n} out of order or wrong: {describe(msg)}, wanted id {rid}")


def chat(name, addr):
    """A connection that has joined the room (or not, with name None)."""
    c = Conn(addr)
    if name is not None:
        c.request(request_id=1, request_type=REQUEST, path="/room/join", data=chat_pb2.ChatJoin(name=name).SerializeToString())
        c.expect(1, RESPONSE, OK)
    return c


def say(c, text, rid=2):
    msg = chat_pb2.ChatMessage(text=text)
    setattr(msg, "from", "mallory")  # the server ignores it and uses the joined name
    c.request(request_id=rid, request_type=REQUEST, path_hash=fnv1a("/room/send"), data=msg.SerializeToString())
    c.expect(rid, RESPONSE, OK)


def subscribe(c, rid, sender=None, by_hash=False):
    data = b""
    if sender is not None:
        flt = chat_pb2.ChatFilter()
        setattr(flt, "from", sender)
        data = flt.SerializeToString()
    target = {"path_hash": fnv1a(ROOM)} if by_hash else {"path": ROOM}
    c.request(request_id=rid, request_type=SUBSCRIBE, data=data, **target)
    c.expect(rid, RESPONSE, OK)


def update_of(msg, nonce):
    """(id, from, text) of an UPDATE of ours, None for other traffic."""
    check(msg.response_type == UPDATE and msg.response_status == OK, f"expected an UPDATE, got {describe(msg)}")
    chat = chat_pb2.ChatMessage.FromString(msg.data)
    check(len(UnknownFieldSet(chat)) == 0, f"ChatMessage with unknown fields: {hexdump(msg.data)}")
    if nonce not in chat.text:
        return None
    return msg.request_id, getattr(chat, "from"), chat.text


def updates_until(c, nonce, last_text, count=1):
    """Our updates, read until ``last_text`` was seen ``count`` times."""
    got = []
    while sum(1 for u in got if u[2] == last_text) < count:
        u = update_of(c.read(), nonce)
        if u is not None:
            got.append(u)
    return got


def nonce():
    return f"{os.getpid()}-{time.monotonic_ns()}"


@case
def pubsub_filter(addr):
    n = nonce()
    alice, bob = f"alice-{n}", f"bob-{n}"
    with Conn(addr) as all_, Conn(addr) as only_alice:
        subscribe(all_, 11)
        subscribe(only_alice, -22, sender=alice, by_hash=True)
        with chat(alice, addr) as a, chat(bob, addr) as b, chat(None, addr) as anon:
            say(a, f"a1 {n}")
            say(b, f"b1 {n}")
            say(anon, f"c1 {n}")
            say(a, f"a2 {n}")
        want_all = [(11, alice, f"a1 {n}"), (11, bob, f"b1 {n}"), (11, "anonymous", f"c1 {n}"), (11, alice, f"a2 {n}")]
        got = updates_until(all_, n, f"a2 {n}")
        check(got == want_all, f"unfiltered subscriber got {got}")
        got = updates_until(only_alice, n, f"a2 {n}")
        check(got == [(-22, alice, f"a1 {n}"), (-22, alice, f"a2 {n}")], f"filtered subscriber got {got}")


@case
def unsubscribe(addr):
    n = nonce()
    name = f"unsub-{n}"
    with Conn(addr) as s, chat(name, addr) as p:
        subscribe(s, 33)
        subscribe(s, 34, sender=name)
        say(p, f"u1 {n}")
        got = updates_until(s, n, f"u1 {n}", count=2)
        check(sorted(got) == [(33, name, f"u1 {n}"), (34, name, f"u1 {n}")], f"before unsubscribe got {got}")
        s.request(request_id=33, request_type=REQUEST, path=ROOM)
        while True:  # updates may come before the ack
            msg = s.read()
            if msg.response_type != UPDATE:
                break
        check((msg.request_id, msg.response_type, msg.response_status) == (33, RESPONSE, OK), f"unsubscribe ack: {describe(msg)}")
        say(p, f"u2 {n}")
        after = updates_until(s, n, f"u2 {n}")
        # The publish finished before the send was acked, so an update it
        # made for id 33 would be queued ahead of this PONG.
        s.request(request_id=36, request_type=PING)
        while True:
            msg = s.read()
            if msg.response_type == PONG and msg.request_id == 36:
                break
            u = update_of(msg, n)
            if u is not None:
                after.append(u)
        check(after == [(34, name, f"u2 {n}")], f"after unsubscribing id 33 got {after}")


def sized_echo(rid, size):
    """An echo request whose message is exactly ``size`` bytes, framed."""
    fields = dict(request_id=rid, request_type=REQUEST, path_hash=fnv1a("/echo"))
    overhead = len(Request(data=b"x" * size, **fields).SerializeToString()) - size
    body = Request(data=os.urandom(size - overhead), **fields).SerializeToString()
    assert len(body) == size
    return frame(body), body


@case
def max_message_size(addr):
    """1 MiB (the default maxMessageSize) is accepted, one byte more is not."""
    limit = 1024 * 1024
    with Conn(addr) as c:
        raw, body = sized_echo(71, limit)
        c.send(raw)
        msg = c.expect(71, RESPONSE, OK)
        check(msg.data == Request.FromString(body).data, "echo of a 1 MiB request differs")
    with Conn(addr) as healthy, Conn(addr) as big:
        healthy.ping(72)
        big.send_bad(sized_echo(73, limit + 1)[0])
        sent = big.wait_closed()
        check(sent == b"", f"server answered an oversize frame with {hexdump(sent)}")
        healthy.ping(74)


def malformed(payload):
    def run(addr):
        with Conn(addr) as healthy, Conn(addr) as bad:
            healthy.ping(61)
            bad.send_bad(payload)
            sent = bad.wait_closed()
            check(sent == b"", f"server answered malformed input with {hexdump(sent)} before closing")
            healthy.ping(62)
        with Conn(addr) as fresh:
            fresh.ping(63)

    return run


def bad_frame(body):
    return frame(body)


MALFORMED = {
    "malformed-prefix-11-bytes": b"\xff" * 10 + b"\x01" + b"\x08\x01",
    "malformed-varint-11-bytes": bad_frame(b"\x10\x01\x08" + b"\x80" * 10 + b"\x00"),
    "malformed-wire-type-7": bad_frame(b"\x08\x05\x10\x01\x2f\x00"),
    "malformed-wire-type-3": bad_frame(b"\x08\x05\x10\x01\x33\x34"),
    "malformed-wire-type-4": bad_frame(b"\x08\x05\x10\x01\x34"),
    "malformed-prefix-1gib": varint(1 << 30) + b"\x08\x01\x10\x01",
    "malformed-field-past-end": bad_frame(b"\x08\x05\x10\x02\x52\x05\x00"),
    "malformed-path-bad-utf8": bad_frame(b"\x08\x05\x10\x02\x22\x02\xc3\x28"),
}
for _name, _payload in MALFORMED.items():
    CASES.append((_name, malformed(_payload)))


def resync(payload):
    """A serial line drops bad bytes, waits for a quiet gap, and goes on."""

    def run(addr):
        with Conn(addr) as c:
            c.ping(61)
            c.send(payload)
            serial_line(addr[1]).quiet(QUIET_GAP)
            # Nothing may have been answered for the bad bytes.
            c.ping(62)
            c.request(request_id=63, request_type=REQUEST, path="/echo", data=b"after")
            msg = c.expect(63, RESPONSE, OK)
            check(msg.data == b"after", f"echo after resync returned {hexdump(msg.data)}")

    return run


def resync_cut_frame(addr):
    """A frame cut short by a quiet gap is dropped; the next one is served."""
    raw = encode(request_id=64, request_type=REQUEST, path="/echo", data=b"x" * 100)
    with Conn(addr) as c:
        c.send(raw[:40])
        serial_line(addr[1]).quiet(QUIET_GAP)
        c.ping(65)


RESYNC_CASES = [(name.replace("malformed-", "resync-"), resync(payload)) for name, payload in MALFORMED.items()]
RESYNC_CASES.append(("resync-cut-frame", resync_cut_frame))

# Cases that use one session only: what a serial line can run.
SINGLE_SESSION = {
    "ping",
    "echo-by-path",
    "echo-by-hash",
    "not-found-by-path",
    "not-found-by-hash",
    "unknown-fields",
    "any-order",
    "last-wins-path",
    "last-wins-path-then-hash",
    "last-wins-hash-then-path",
    "last-wins-scalars",
    "pipelining-1000",
}


def sync_line(path):
    """Pings until the server answers on the line (it may open its end late)."""
    line = serial_line(path)
    ping = encode(request_id=1, request_type=PING)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line.send(ping)
        got = b""
        try:
            while len(got) < 6:
                got += line.recv(0.3)
        except TimeoutError:
            pass
        if got:
            line.drain()
            return
    raise PeerError(f"no answer on {path} within 15 s")


def canonical_encoding(addr):
    check(not non_canonical, f"{len(non_canonical)} frames differ from Google's encoding, e.g. {non_canonical[:3]}")


def main(argv):
    only = None
    if "--only" in argv:
        i = argv.index("--only")
        only = set(argv[i + 1].split(","))
        argv = argv[:i] + argv[i + 2 :]
    seed = random.randrange(1 << 32)
    if "--seed" in argv:
        i = argv.index("--seed")
        seed = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    cases = CASES
    if argv[:1] == ["tcp"] and len(argv) == 3:
        addr = ("tcp", (argv[1], int(argv[2])))
    elif argv[:1] in (["unix"], ["ws"], ["serial"]) and len(argv) == 2:
        addr = (argv[0], argv[1])
    else:
        sys.exit(__doc__)
    if addr[0] == "ws":
        WebSocketLink.rng.seed(seed)
        print(f"WebSocket cuts from seed {seed} (replay with --seed {seed})", flush=True)
    if addr[0] == "serial":
        cases = [c for c in CASES if c[0] in SINGLE_SESSION] + RESYNC_CASES
        sync_line(addr[1])
    assert (fnv1a(""), fnv1a("a"), fnv1a("foobar")) == (0x811C9DC5, 0xE40C292C, 0xBF9CF968)
    failed = 0
    for name, fn in cases + [("canonical-encoding", canonical_encoding)]:
        if only is not None and name not in only:
            continue
        try:
            fn(addr)
            print(f"{name}: ok", flush=True)
        except Exception as err:  # a case's failure must not stop the others
            failed += 1
            print(f"{name}: FAIL {type(err).__name__}: {err}", flush=True)
    if addr[0] == "ws":
        print(f"{WebSocketLink.messages_sent} binary messages sent", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
