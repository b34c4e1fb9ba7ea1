"""Differential tests: torsion's and Twisted's basic protocols on the same input.

The same scripted protocol is built on ``torsion.protocols.basic`` and on
``twisted.protocols.basic``, attached to Twisted's ``StringTransport`` and fed
the same chunks; every callback, return value, write and close must match.
The script is driven by the content of the lines/strings, so hypothesis
explores mode switches, pauses, closes, delimiter and limit changes and
re-entrant calls.  Known, documented differences (docs/compat.md) are kept
out of the generated inputs and checked separately at the end.
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.testing import StringTransport as TwistedStringTransport
from twisted.protocols import basic as twistedBasic

from tests.protocols.helpers import cut, cutPoints
from torsion.protocols import basic as torsionBasic

Trace = list[tuple[Any, ...]]


def lineReceiverClass(module: Any) -> type:
    """A LineReceiver whose lines are commands (first byte) for the test."""

    class Scripted(module.LineReceiver):  # type: ignore[misc]
        delimiter = b"\n"
        MAX_LENGTH = 8

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def lineReceived(self, line: bytes) -> Any:
            self.trace.append(("line", line))
            op = line[:1]
            if op == b"R":
                self.setRawMode()
            elif op == b"C":
                self.trace.append(("cleared", self.clearLineBuffer()))
            elif op == b"X":
                self.transport.loseConnection()
            elif op == b"T":
                return "stop"
            elif op == b"P":
                self.pauseProducing()
            elif op == b"D":
                self.delimiter = b"\r\n" if self.delimiter == b"\n" else b"\n"
            elif op == b"M":
                self.MAX_LENGTH = 20 if self.MAX_LENGTH == 8 else 8
            elif op == b"E":
                self.trace.append(("inner", self.dataReceived(b"e" + self.delimiter)))
            elif op == b"S":
                self.sendLine(line)
            return None

        def rawDataReceived(self, data: bytes) -> Any:
            self.trace.append(("raw", data))
            i = data.find(b"L")
            if i >= 0:
                return self.setLineMode(data[i + 1 :])
            if b"T" in data:
                return "raw stop"
            return None

        def lineLengthExceeded(self, line: bytes) -> Any:
            self.trace.append(("long", line))
            if b"!" in line:
                return self.transport.loseConnection()
            i = line.find(b"L")
            if i >= 0:
                return self.setLineMode(line[i + 1 :])
            return None

    return Scripted


def run(proto: Any, chunks: list[bytes], stopAt: str | None = None) -> Trace:
    """Feed ``chunks``; between chunks resume a paused protocol and reopen."""
    transport = TwistedStringTransport(lenient=True)
    proto.makeConnection(transport)
    trace = proto.trace

    def stopped() -> bool:
        return stopAt is not None and any(event[0] == stopAt for event in trace)

    for chunk in chunks:
        trace.append(("returned", proto.dataReceived(chunk)))
        trace.append(("state", transport.disconnecting, transport.value()))
        if stopped():
            break
        transport.disconnecting = False
        if getattr(proto, "paused", False):
            proto.resumeProducing()
            trace.append(("resumed", transport.value()))
            if stopped():
                break
    return trace  # type: ignore[no-any-return]


lineTokens = st.sampled_from(
    [b"R", b"C", b"X", b"T", b"P", b"D", b"M", b"E", b"S", b"x", b"yy", b"!", b"L"]
    + [b"\n", b"\n", b"\r\n", b"\r", b"zzzzzzzzzz"]
)
streams = st.lists(lineTokens, max_size=60).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(data=streams, points=cutPoints)
def test_line_receiver_matches_twisted(data: bytes, points: list[int]) -> None:
    """LineReceiver: same callbacks, returns, writes and closes as Twisted."""
    chunks = cut(data, points)
    ours = run(lineReceiverClass(torsionBasic)(), chunks)
    theirs = run(lineReceiverClass(twistedBasic)(), chunks)
    assert ours == theirs


def lineOnlyClass(module: Any) -> type:
    class Scripted(module.LineOnlyReceiver):  # type: ignore[misc]
        delimiter = b"\n"
        MAX_LENGTH = 8

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def lineReceived(self, line: bytes) -> None:
            self.trace.append(("line", line))
            op = line[:1]
            if op == b"X":
                self.transport.loseConnection()
            elif op == b"D":
                self.delimiter = b"\r\n" if self.delimiter == b"\n" else b"\n"
            elif op == b"M":
                self.MAX_LENGTH = 20 if self.MAX_LENGTH == 8 else 8
            elif op == b"E":
                self.dataReceived(b"e" + self.delimiter)
            elif op == b"S":
                self.sendLine(line)

        def lineLengthExceeded(self, line: bytes) -> None:
            self.trace.append(("long", line))

    return Scripted


@settings(max_examples=300, deadline=None)
@given(data=streams, points=cutPoints)
def test_line_only_receiver_matches_twisted(data: bytes, points: list[int]) -> None:
    """LineOnlyReceiver: same as Twisted up to the first over-long line."""
    chunks = cut(data, points)
    ours = run(lineOnlyClass(torsionBasic)(), chunks, stopAt="long")
    theirs = run(lineOnlyClass(twistedBasic)(), chunks, stopAt="long")
    assert ours == theirs


def netstringClass(module: Any) -> type:
    class Scripted(module.NetstringReceiver):  # type: ignore[misc]
        MAX_LENGTH = 12

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def stringReceived(self, string: bytes) -> None:
            self.trace.append(("string", string, self.brokenPeer))
            op = string[:1]
            if op == b"X":
                self.transport.loseConnection()
            elif op == b"M":
                self.MAX_LENGTH = 100 if self.MAX_LENGTH == 12 else 12
            elif op == b"E":
                self.dataReceived(b"1:e,")
            elif op == b"S":
                self.sendString(string)

        def dataReceived(self, data: bytes) -> None:
            super().dataReceived(data)
            self.trace.append(("broken", self.brokenPeer))

    return Scripted


netstringPayloads = st.sampled_from(
    [b"", b"a", b"X", b"M", b"E", b"S", b"Sxyz", b"abcdefghijklmnop", b"1:a,"]
)
netstringTokens = netstringPayloads.map(lambda s: b"%d:%s," % (len(s), s)) | st.sampled_from(
    [b"0", b"1", b"2", b"9", b":", b",", b"a", b"01:", b"-1:", b"123456:"]
)


@settings(max_examples=400, deadline=None)
@given(tokens=st.lists(netstringTokens, max_size=25), points=cutPoints)
def test_netstring_receiver_matches_twisted(tokens: list[bytes], points: list[int]) -> None:
    """NetstringReceiver: same strings, brokenPeer and closes as Twisted."""
    chunks = cut(b"".join(tokens), points)
    ours = run(netstringClass(torsionBasic)(), chunks)
    theirs = run(netstringClass(twistedBasic)(), chunks)
    assert ours == theirs


def intNClass(module: Any, kind: str) -> type:
    base = getattr(module, kind)

    class Scripted(base):  # type: ignore[misc, valid-type]
        MAX_LENGTH = 12

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def stringReceived(self, string: bytes) -> None:
            self.trace.append(("string", string))
            op = string[:1]
            if op == b"X":
                self.transport.loseConnection()
            elif op == b"P":
                self.pauseProducing()
            elif op == b"M":
                self.MAX_LENGTH = 100 if self.MAX_LENGTH == 12 else 12
            elif op == b"S":
                self.sendString(string)

        def lengthLimitExceeded(self, length: int) -> None:
            self.trace.append(("limit", length))

    return Scripted


intPayloads = st.sampled_from([b"", b"a", b"X", b"P", b"M", b"S", b"Sxy", b"0123456789abcdef"])


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["Int8StringReceiver", "Int16StringReceiver", "Int32StringReceiver"]),
    payloads=st.lists(intPayloads | st.binary(max_size=30), max_size=20),
    points=cutPoints,
)
def test_intn_receiver_matches_twisted(kind: str, payloads: list[bytes], points: list[int]) -> None:
    """IntNStringReceiver: same as Twisted up to the first length-limit violation."""
    fmt = getattr(twistedBasic, kind).structFormat
    data = b"".join(struct.pack(fmt, len(p)) + p for p in payloads)
    chunks = cut(data, points)
    ours = run(intNClass(torsionBasic, kind)(), chunks, stopAt="limit")
    theirs = run(intNClass(twistedBasic, kind)(), chunks, stopAt="limit")
    assert ours == theirs


# -- the documented differences ------------------------------------------------------------


def test_difference_netstring_newline_after_length_is_refused_at_once() -> None:
    """Twisted waits after b'12\\n' (a regex quirk) and fails on the next byte; torsion at once."""
    ours, theirs = netstringClass(torsionBasic)(), netstringClass(twistedBasic)()
    assert run(ours, [b"12\n"]) == [("broken", 1), ("returned", None), ("state", True, b"")]
    assert run(theirs, [b"12\n"]) == [("broken", 0), ("returned", None), ("state", False, b"")]
    ours, theirs = netstringClass(torsionBasic)(), netstringClass(twistedBasic)()
    assert run(ours, [b"12\n", b"3"])[3:] == run(theirs, [b"12\n", b"3"])[3:]
    assert ours.brokenPeer == theirs.brokenPeer == 1


def test_difference_intn_no_redelivery_after_limit() -> None:
    """After an oversized prefix Twisted delivers earlier strings again; torsion does not."""
    data = b"\x00\x01a" + b"\xff\xff"
    ours = intNClass(torsionBasic, "Int16StringReceiver")()
    theirs = intNClass(twistedBasic, "Int16StringReceiver")()
    run(ours, [data, b"more"])
    run(theirs, [data, b"more"])
    oursEvents = [e for e in ours.trace if e[0] in ("string", "limit")]
    theirsEvents = [e for e in theirs.trace if e[0] in ("string", "limit")]
    assert oursEvents == [("string", b"a"), ("limit", 65535), ("limit", 65535)]
    assert theirsEvents == [("string", b"a"), ("limit", 65535), ("string", b"a"), ("limit", 65535)]


def test_difference_line_only_long_tail_dropped() -> None:
    """Twisted keeps an over-long unterminated line and reports it again; torsion drops it."""
    ours, theirs = lineOnlyClass(torsionBasic)(), lineOnlyClass(twistedBasic)()
    run(ours, [b"x" * 9, b"yy", b"z\nok\n"])
    run(theirs, [b"x" * 9, b"yy", b"z\nok\n"])
    assert [e for e in ours.trace if e[0] in ("line", "long")] == [
        ("long", b"x" * 9),
        ("line", b"yyz"),
        ("line", b"ok"),
    ]
    assert [e for e in theirs.trace if e[0] in ("line", "long")] == [
        ("long", b"x" * 9),
        ("long", b"x" * 9 + b"yy"),
        ("long", b"x" * 9 + b"yyz"),
    ]
