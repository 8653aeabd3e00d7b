"""NanoRPC framing and strict decoding for the Google-protobuf interop peer.

Written from the protocol description (proto/nanorpc.proto and the README's
protocol rules), not from any other implementation: a frame is a protobuf varint length prefix followed by
one message. Requests are encoded by Google's generated classes; every
response is parsed by them and then checked harder than a lenient client
would: no unknown fields, only known enum values, and (recorded separately)
whether the bytes are exactly what Google's encoder would have produced.
"""

from google.protobuf.unknown_fields import UnknownFieldSet

import nanorpc_pb2
from links import open_link

Request = nanorpc_pb2.NanoRPCRequest
Response = nanorpc_pb2.NanoRPCResponse

PING = Request.TYPE_PING
REQUEST = Request.TYPE_REQUEST
SUBSCRIBE = Request.TYPE_SUBSCRIBE
PONG = Response.TYPE_PONG
RESPONSE = Response.TYPE_RESPONSE
UPDATE = Response.TYPE_UPDATE
OK = Response.STATUS_OK
NOT_FOUND = Response.STATUS_NOT_FOUND

TIMEOUT = 10.0

# Frames whose bytes differ from Google's canonical encoding of the same
# message; reported by the peer's "canonical-encoding" case.
non_canonical = []


class PeerError(AssertionError):
    """A check failed; the message says what was expected and what came."""


def fnv1a(text):
    """FNV-1a 32-bit over the UTF-8 bytes of ``text``."""
    h = 0x811C9DC5
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def varint(n):
    """Unsigned varint of ``n`` (the frame length prefix)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def frame(body):
    """Prefix ``body`` with its varint length."""
    return varint(len(body)) + body


def encode(**fields):
    """A NanoRPCRequest as Google's encoder writes it, framed."""
    return frame(Request(**fields).SerializeToString())


def hexdump(data, limit=96):
    text = data[:limit].hex(" ")
    return text + (f" ... ({len(data)} bytes)" if len(data) > limit else "")


def check_response(body):
    """Parse ``body`` strictly as a NanoRPCResponse and return it."""
    msg = Response()
    try:
        msg.ParseFromString(body)
    except Exception as err:  # DecodeError, or a UTF-8 error in a string
        raise PeerError(f"undecodable response ({err}): {hexdump(body)}")
    unknown = UnknownFieldSet(msg)
    if len(unknown) > 0:
        numbers = [f.field_number for f in unknown]
        raise PeerError(f"response has unknown fields {numbers}: {hexdump(body)}")
    if msg.response_type not in Response.Type.values():
        raise PeerError(f"unknown response_type {msg.response_type}")
    if msg.response_status not in Response.Status.values():
        raise PeerError(f"unknown response_status {msg.response_status}")
    return msg


def describe(msg):
    return (
        f"id={msg.request_id} type={Response.Type.Name(msg.response_type)} "
        f"status={Response.Status.Name(msg.response_status)} "
        f"message={msg.response_message!r} data={hexdump(msg.data, 32)}"
    )


class Conn:
    """One connection to the server (one session), reading whole frames,
    over any link of ``links.py``."""

    def __init__(self, addr):
        self.link = open_link(addr, TIMEOUT)
        self.buf = bytearray()
        self.sent = b""

    def close(self):
        self.link.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sent = data
        self.link.send(data)

    def send_bad(self, data):
        """Send input the server may close on before reading all of it."""
        try:
            self.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def request(self, **fields):
        self.send(encode(**fields))

    def _fill(self):
        chunk = self.link.recv(TIMEOUT)
        if not chunk:
            raise PeerError(
                f"server closed the connection; last sent {hexdump(self.sent)}; "
                f"unread {hexdump(bytes(self.buf))}"
            )
        self.buf += chunk

    def _prefix(self):
        """(length, prefix size) once a whole prefix is buffered."""
        while True:
            n, shift = 0, 0
            for i, b in enumerate(self.buf):
                if i >= 10:
                    raise PeerError(f"length prefix over 10 bytes: {hexdump(self.buf)}")
                n |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    return n, i + 1
            self._fill()

    def read_raw(self):
        """The next whole frame as (prefix + body bytes, body bytes)."""
        length, size = self._prefix()
        while len(self.buf) < size + length:
            self._fill()
        raw = bytes(self.buf[: size + length])
        del self.buf[: size + length]
        return raw, raw[size:]

    def read(self):
        """The next response, strictly decoded."""
        raw, body = self.read_raw()
        msg = check_response(body)
        canonical = frame(msg.SerializeToString(deterministic=True))
        if canonical != raw:
            non_canonical.append(
                f"got {hexdump(raw, 48)} but Google encodes {hexdump(canonical, 48)}"
            )
        return msg

    def expect(self, request_id, rtype, status):
        """Read one response and check its id, type and status."""
        msg = self.read()
        if (msg.request_id, msg.response_type, msg.response_status) != (
            request_id,
            rtype,
            status,
        ):
            want = (
                f"id={request_id} type={Response.Type.Name(rtype)} "
                f"status={Response.Status.Name(status)}"
            )
            raise PeerError(
                f"expected {want}, got {describe(msg)}; sent {hexdump(self.sent)}"
            )
        return msg

    def ping(self, request_id=1):
        self.request(request_id=request_id, request_type=PING)
        return self.expect(request_id, PONG, OK)

    def wait_closed(self, timeout=TIMEOUT):
        """Read until EOF; returns the bytes the server sent before closing."""
        got = bytearray(self.buf)
        try:
            while True:
                chunk = self.link.recv(timeout)
                if not chunk:
                    return bytes(got)
                got += chunk
        except ConnectionResetError:
            return bytes(got)
        except TimeoutError:
            raise PeerError(
                f"connection still open {timeout}s after sending {hexdump(self.sent)}"
            )
