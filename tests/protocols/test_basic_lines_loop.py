"""LineReceiver's per-packet loop: every way a callback can end it, against Twisted.

``LineReceiver.dataReceived`` splits a packet once and runs a tight loop over
the lines, leaving it when a callback changed the state (pause, raw mode,
delimiter, limit, cleared buffer, re-entrant data, close).  Each scenario here
runs on torsion's and on Twisted's class and must give the same trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from twisted.internet.testing import StringTransport as TwistedStringTransport

from tests.protocols.helpers import sameAsTwisted
from torsion.protocols import basic as torsionBasic

Trace = list[tuple[Any, ...]]
Action = Callable[[Any, bytes], Any]


def receiverClass(module: Any, actions: dict[bytes, Action]) -> type:
    """A LineReceiver that records its callbacks and runs ``actions[line]``."""

    class Recording(module.LineReceiver):  # type: ignore[misc]
        delimiter = b"\n"
        MAX_LENGTH = 10

        def connectionMade(self) -> None:
            self.trace: Trace = []

        def lineReceived(self, line: bytes) -> Any:
            self.trace.append(("line", line))
            self.sendLine(line)
            action = actions.get(line)
            return None if action is None else action(self, line)

        def rawDataReceived(self, data: bytes) -> Any:
            self.trace.append(("raw", data))
            i = data.find(b"L")
            if i >= 0:
                return self.setLineMode(data[i + 1 :])
            return None

        def lineLengthExceeded(self, line: bytes) -> Any:
            self.trace.append(("long", line))

    return Recording


def same(actions: dict[bytes, Action], *chunks: bytes) -> Trace:
    return sameAsTwisted(lambda module: receiverClass(module, actions), list(chunks))


@pytest.mark.parametrize(
    "chunks",
    [
        [b"a\nbb\nccc\n"],  # ends with the delimiter: no tail
        [b"a\nbb\ncc", b"c\nd\n"],  # a tail completed by the next packet
        [b"a\n", b"", b"b\n"],
        [b""],
        [b"abc"],
        [b"abcd\n" * 10],  # longer than MAX_LENGTH, no line too long
        [b"a\n" * 3 + b"b" * 11 + b"\nc\n"],  # a long line after short ones
        [b"abcd\n" * 3 + b"b" * 11],  # too long unterminated tail
        [b"abcd\n" * 3 + b"b" * 11, b"\nc\n"],
    ],
)
def test_plain_packets(chunks: list[bytes]) -> None:
    """Without any state change every line is delivered and answered in order."""
    same({}, *chunks)


def test_clear_line_buffer_ends_the_loop() -> None:
    trace = same(
        {b"c": lambda p, _: p.trace.append(("cleared", p.clearLineBuffer()))},
        b"a\nc\nx\ny\nz",
        b"q\n",
    )
    assert ("cleared", b"x\ny\nz") in trace


def test_delimiter_change_resplits_the_rest() -> None:
    def change(p: Any, _: bytes) -> None:
        p.delimiter = b";"

    trace = same({b"d": change}, b"a\nd\nx;y\nz;w")
    assert ("line", b"y\nz") in trace


def test_equal_delimiter_object_keeps_going() -> None:
    def change(p: Any, _: bytes) -> None:
        p.delimiter = bytes(bytearray(b"\n"))  # equal, not identical

    same({b"d": change}, b"a\nd\nb\nc\n")


def test_limit_lowered_mid_packet() -> None:
    def lower(p: Any, _: bytes) -> None:
        p.MAX_LENGTH = 2

    trace = same({b"m": lower}, b"m\nab\nabc\nd\n")
    assert ("long", b"abc\nd\n") in trace


def test_limit_raised_mid_packet() -> None:
    def raiseLimit(p: Any, _: bytes) -> None:
        p.MAX_LENGTH = 100

    same({b"m": raiseLimit}, b"m\n" + b"x" * 50 + b"\ny\n")


def test_raw_mode_mid_packet() -> None:
    same({b"r": lambda p, _: p.setRawMode()}, b"a\nr\nraw\nbytesLx\ny\n", b"z\n")


def test_pause_mid_packet_then_resume() -> None:
    same({b"p": lambda p, _: p.pauseProducing()}, b"a\np\nb\nc\n", b"d\n")


def test_true_return_value_mid_packet() -> None:
    same({b"t": lambda p, _: "stop"}, b"a\nt\nb\n", b"c\n")


def test_lose_connection_mid_packet() -> None:
    same({b"x": lambda p, _: p.transport.loseConnection()}, b"a\nx\nb\nc\n")


def test_reentrant_data_mid_packet() -> None:
    def inner(p: Any, _: bytes) -> None:
        p.trace.append(("inner", p.dataReceived(b"e\nf")))

    same({b"e0": inner}, b"a\ne0\nb\n", b"g\n")


def test_set_line_mode_with_extra_from_line_received() -> None:
    same({b"s": lambda p, _: p.setLineMode(b"x\ny")}, b"a\ns\nb\n", b"\n")


def test_buffer_inspected_mid_packet() -> None:
    """Looking at the buffer's size from a callback does not lose lines."""
    sizes = []

    def inspect(p: Any, _: bytes) -> None:
        sizes.append(p._lineBuffer.bufferedSize())

    proto = receiverClass(torsionBasic, {b"i": inspect})()
    proto.makeConnection(TwistedStringTransport())
    proto.dataReceived(b"a\ni\nb\nc")
    assert sizes == [len(b"b\nc")]
    assert [e[1] for e in proto.trace if e[0] == "line"] == [b"a", b"i", b"b"]


def test_empty_data_with_negative_limit_reports_nothing() -> None:
    """As in Twisted, an empty buffer is never a too-long line."""

    def negative(p: Any, _: bytes) -> None:
        p.MAX_LENGTH = -5

    same({b"n": negative}, b"n\n", b"", b"a")


def test_limit_and_delimiter_as_properties() -> None:
    """A subclass may compute MAX_LENGTH and delimiter; they are read per line."""

    class Computed(receiverClass(torsionBasic, {})):  # type: ignore[misc]
        limit = 3
        MAX_LENGTH = property(lambda self: self.limit)  # type: ignore[assignment]
        delimiter = property(lambda self: b";" if self.limit > 3 else b"\n")  # type: ignore[assignment]

        def lineReceived(self, line: bytes) -> Any:
            self.trace.append(("line", line))
            if line == b"up":
                self.limit = 5

    proto = Computed()
    proto.makeConnection(TwistedStringTransport())
    proto.dataReceived(b"ab\nup\nabcd;ef;abcdefg;")
    assert proto.trace == [
        ("line", b"ab"),
        ("line", b"up"),
        ("line", b"abcd"),
        ("line", b"ef"),
        ("long", b"abcdefg;"),
    ]
