"""Byte links the interop peer speaks NanoRPC over, written from the specs
they follow (POSIX sockets and termios, RFC 6455 through the PyPI
``websockets`` package), not from the server's code.

A link sends bytes and receives bytes; ``recv`` returns b"" at the end of
the stream and raises TimeoutError when nothing came in time.

- ``SocketLink``: TCP or a UNIX socket.
- ``WebSocketLink``: binary WebSocket messages. Every ``send`` is cut at
  random points into several messages, so frames straddle messages and a
  message holds pieces of several frames; the cuts come from a seeded
  generator whose seed the peer prints.
- ``SerialLink``: one end of a pty pair (or a real serial device) in raw
  mode, set with Python's ``termios``/``tty``. A line is a single session:
  every ``open_link`` returns a view of the same line, and closing a view
  only drops what is left unread.
"""

import os
import random
import select
import socket
import termios
import time
import tty

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

# Pieces one send is cut into at most, over a WebSocket.
MAX_PIECES = 24


class SocketLink:
    def __init__(self, kind, target, timeout):
        family = socket.AF_UNIX if kind == "unix" else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(target)

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        return self.sock.recv(1 << 20)

    def close(self):
        self.sock.close()


def cut(data, rng):
    """``data`` split at 0 to MAX_PIECES - 1 random points."""
    if len(data) < 2:
        return [data]
    pieces = rng.randint(1, min(len(data), MAX_PIECES))
    points = sorted(rng.sample(range(1, len(data)), pieces - 1))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:])]


class WebSocketLink:
    rng = random.Random()
    messages_sent = 0

    def __init__(self, url, timeout):
        # No size limit on what the server sends (a 1 MiB echo comes back
        # in one message), no compression: the bytes are the frames.
        self.ws = ws_connect(
            url, max_size=None, compression=None, open_timeout=timeout, close_timeout=2
        )

    def send(self, data):
        try:
            for piece in cut(bytes(data), WebSocketLink.rng):
                self.ws.send(piece)
                WebSocketLink.messages_sent += 1
        except ConnectionClosed as err:
            raise BrokenPipeError(f"WebSocket closed: {err}") from err

    def recv(self, timeout):
        try:
            message = self.ws.recv(timeout=timeout)
        except ConnectionClosed:
            return b""
        if isinstance(message, str):
            raise AssertionError(f"the server sent a text message: {message[:80]!r}")
        return message

    def close(self):
        self.ws.close()


class SerialLine:
    """The line itself, opened once, in raw mode at 115200 baud."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd)  # no echo, no line editing, 8 bits, no translation
        attrs = termios.tcgetattr(self.fd)
        attrs[4] = attrs[5] = termios.B115200
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def send(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def recv(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise TimeoutError(f"nothing on {self.path} within {timeout}s")
        return os.read(self.fd, 65536)

    def drain(self, quiet=0.1):
        """Reads and drops bytes until the line has been quiet ``quiet`` s."""
        dropped = b""
        while True:
            try:
                dropped += self.recv(quiet)
            except TimeoutError:
                return dropped

    def quiet(self, seconds):
        """Sends nothing for ``seconds``: the sender's half of the gap rule."""
        time.sleep(seconds)


class SerialView:
    """One case's use of the shared line."""

    def __init__(self, line):
        self.line = line

    def send(self, data):
        self.line.send(data)

    def recv(self, timeout):
        return self.line.recv(timeout)

    def close(self):
        self.line.drain()


_lines = {}


def serial_line(path):
    if path not in _lines:
        _lines[path] = SerialLine(path)
    return _lines[path]


def open_link(addr, timeout):
    kind, target = addr
    if kind in ("tcp", "unix"):
        return SocketLink(kind, target, timeout)
    if kind == "ws":
        return WebSocketLink(target, timeout)
    if kind == "serial":
        return SerialView(serial_line(target))
    raise ValueError(f"unknown transport {kind}")
