"""IntNStringReceiver's per-packet loop and sendString's packed prefixes.

``dataReceived`` delivers the strings complete in one buffer in a tight loop
and leaves it when a callback paused, assigned ``recvd``, changed
``MAX_LENGTH`` or parsed data itself; ``sendString`` takes the prefixes of
short strings from a table.  Compared with Twisted where the behaviours
agree (docs/compat.md lists where they do not).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.testing import StringTransport as TwistedStringTransport
from twisted.protocols import basic as twistedBasic

from tests.protocols.helpers import sameAsTwisted, traceOnTwistedTransport
from torsion.protocols import basic as torsionBasic

Trace = list[tuple[Any, ...]]
Action = Callable[[Any, bytes], Any]


def receiverClass(module: Any, actions: dict[bytes, Action], kind: str = "Int32") -> type:
    """An IntN receiver that records its callbacks and runs ``actions[string]``."""

    class Recording(getattr(module, kind + "StringReceiver")):  # type: ignore[misc]
        MAX_LENGTH = 10

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def stringReceived(self, string: bytes) -> None:
            self.trace.append(("string", string, self.recvd))
            self.sendString(string)
            action = actions.get(string)
            if action is not None:
                action(self, string)

        def lengthLimitExceeded(self, length: int) -> None:
            self.trace.append(("limit", length, self.recvd))

    return Recording


def frame(*strings: bytes, fmt: str = "!I") -> bytes:
    return b"".join(struct.pack(fmt, len(s)) + s for s in strings)


def run(module: Any, actions: dict[bytes, Action], chunks: list[bytes]) -> Trace:
    return traceOnTwistedTransport(receiverClass(module, actions)(), chunks)


def same(actions: dict[bytes, Action], *chunks: bytes) -> Trace:
    return sameAsTwisted(lambda module: receiverClass(module, actions), list(chunks))


@pytest.mark.parametrize(
    "chunks",
    [
        [frame(b"a", b"bb", b"", b"ccc")],  # ends exactly after a string
        [frame(b"a", b"bb", b"ccc")[:-2], frame(b"ccc")[-2:] + frame(b"d")],
        [frame(b"a")[:2], frame(b"a")[2:]],  # a prefix cut in two
        [frame(b"a") + b"\x00\x00", b"\x00\x01x"],
    ],
)
def test_plain_packets(chunks: list[bytes]) -> None:
    """Without any state change every string is delivered and answered in order."""
    same({}, *chunks)


def test_pause_mid_packet_then_resume() -> None:
    same({b"p": lambda p, _: p.pauseProducing()}, frame(b"a", b"p", b"b", b"c"), frame(b"d"))


def test_recvd_assigned_mid_packet() -> None:
    def assign(p: Any, _: bytes) -> None:
        p.recvd = frame(b"new", b"er")

    trace = same({b"r": assign}, frame(b"a", b"r", b"lost", b"gone"), frame(b"x"))
    assert ("string", b"lost", b"") not in trace


def test_recvd_trimmed_mid_packet() -> None:
    def trim(p: Any, _: bytes) -> None:
        p.recvd = p.recvd[5:]  # drop the next string (b"\x00\x00\x00\x01s")

    same({b"t": trim}, frame(b"a", b"t", b"s", b"b"))


def test_limit_lowered_mid_packet() -> None:
    def lower(p: Any, _: bytes) -> None:
        p.MAX_LENGTH = 2

    trace = run(torsionBasic, {b"m": lower}, [frame(b"m", b"ab", b"abc", b"d")])
    assert [e[:2] for e in trace if e[0] != "state"] == [
        ("string", b"m"),
        ("string", b"ab"),
        ("limit", 3),
        ("returned", None),
    ]


def test_limit_raised_mid_packet() -> None:
    def raiseLimit(p: Any, _: bytes) -> None:
        p.MAX_LENGTH = 100

    same({b"m": raiseLimit}, frame(b"m", b"x" * 50, b"y"))


def test_nested_data_received_mid_packet() -> None:
    """Data parsed from a callback comes after the strings already buffered."""

    def nested(p: Any, _: bytes) -> None:
        p.dataReceived(frame(b"n1") + frame(b"n2")[:3])

    trace = run(torsionBasic, {b"e": nested}, [frame(b"a", b"e", b"b"), frame(b"n2")[3:]])
    assert [e[1] for e in trace if e[0] == "string"] == [b"a", b"e", b"b", b"n1", b"n2"]


def test_nested_data_received_after_the_last_string() -> None:
    """A callback for the last buffered string may bring a new buffer."""

    def nested(p: Any, _: bytes) -> None:
        p.dataReceived(frame(b"n1", b"n2"))

    trace = run(torsionBasic, {b"e": nested}, [frame(b"a", b"e"), frame(b"z")])
    assert [e[1] for e in trace if e[0] == "string"] == [b"a", b"e", b"n1", b"n2", b"z"]


@pytest.mark.parametrize(
    ("kind", "sizes"),
    [
        ("Int8", [0, 1, 127, 128, 255]),
        ("Int16", [0, 255, 1023, 1024, 1025, 65535]),
        ("Int32", [0, 1, 1023, 1024, 1025, 70000]),
    ],
)
def test_send_string_prefixes(kind: str, sizes: list[int]) -> None:
    """Packed (short) and computed (long) prefixes: the bytes Twisted sends."""
    ours = receiverClass(torsionBasic, {}, kind)()
    theirs = receiverClass(twistedBasic, {}, kind)()
    for proto in (ours, theirs):
        proto.makeConnection(TwistedStringTransport())
        for size in sizes:
            proto.sendString(b"x" * size)
    assert ours.transport.value() == theirs.transport.value()


@pytest.mark.parametrize("fmt", ["!b", "<I", "!h"])
def test_send_string_custom_formats(fmt: str) -> None:
    """Custom and signed formats: same bytes, and the same struct.error past a signed range."""
    protos = []
    for module in (torsionBasic, twistedBasic):

        class Custom(module.IntNStringReceiver):  # type: ignore[misc, name-defined]
            structFormat = fmt
            prefixLength = struct.calcsize(fmt)

        proto = Custom()
        proto.makeConnection(TwistedStringTransport())
        for size in (0, 5, 127, 1000):
            if size < 2 ** (8 * proto.prefixLength):
                proto.sendString(b"y" * size)
        errors = []
        for size in (128, 40000):
            try:
                proto.sendString(b"z" * size)
            except Exception as e:  # struct.error or StringTooLongError
                errors.append(type(e).__name__)
        protos.append((proto.transport.value(), errors))
    assert protos[0] == protos[1]


@pytest.mark.parametrize("fmt", ["!h", "<i", "!b"])
def test_signed_formats_take_the_general_path(fmt: str) -> None:
    """Signed prefixes skip the fast loop; strings and a negative length as before."""

    class Signed(torsionBasic.IntNStringReceiver):
        structFormat = fmt
        prefixLength = struct.calcsize(fmt)

        def connectionMade(self) -> None:
            self.events: list[Any] = []

        def stringReceived(self, string: bytes) -> None:
            self.events.append(string)

        def lengthLimitExceeded(self, length: int) -> None:
            self.events.append(length)

    proto = Signed()
    proto.makeConnection(TwistedStringTransport())
    proto.dataReceived(frame(b"a", b"", b"bc", fmt=fmt) + struct.pack(fmt, -2) + b"xy")
    assert proto.events == [b"a", b"", b"bc", -2]


def test_recvd_reassigned_unchanged_mid_packet() -> None:
    def reassign(p: Any, _: bytes) -> None:
        p.recvd = p.recvd

    same({b"r": reassign}, frame(b"a", b"r", b"b", b"r") + frame(b"c")[:2], frame(b"c")[2:])


def test_nested_empty_data_received_mid_packet() -> None:
    """An empty nested dataReceived (e.g. resumeProducing) changes nothing."""

    def nested(p: Any, _: bytes) -> None:
        p.dataReceived(b"")

    trace = run(torsionBasic, {b"e": nested}, [frame(b"a", b"e", b"b", b"e"), frame(b"z")])
    assert [e[1] for e in trace if e[0] == "string"] == [b"a", b"e", b"b", b"e", b"z"]
