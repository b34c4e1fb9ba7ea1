"""LineReceiver and LineOnlyReceiver on StringTransport: Twisted's scenarios, torsion's bounds."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocols.helpers import connected, cutPoints, feedInPackets, splittings
from torsion.internet import task
from torsion.internet.testing import StringTransport
from torsion.protocols import basic


class LineTester(basic.LineReceiver):
    """Acts on tokens: pause, rawpause, stop, len N (then raw), produce, unproduce."""

    delimiter = b"\n"
    MAX_LENGTH = 64

    def __init__(self, clock: Any = None) -> None:
        self.clock = clock

    def connectionMade(self) -> None:
        self.received: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)
        if line == b"":
            self.setRawMode()
        elif line == b"pause":
            self.pauseProducing()
            self.clock.callLater(0, self.resumeProducing)
        elif line == b"rawpause":
            self.pauseProducing()
            self.setRawMode()
            self.received.append(b"")
            self.clock.callLater(0, self.resumeProducing)
        elif line == b"stop":
            self.stopProducing()
        elif line[:4] == b"len ":
            self.length = int(line[4:])
        elif line.startswith(b"produce"):
            self.transport.registerProducer(self, False)
        elif line.startswith(b"unproduce"):
            self.transport.unregisterProducer()

    def rawDataReceived(self, data: bytes) -> None:
        data, rest = data[: self.length], data[self.length :]
        self.length = self.length - len(data)
        self.received[-1] = self.received[-1] + data
        if self.length == 0:
            self.setLineMode(rest)

    def lineLengthExceeded(self, line: bytes) -> None:
        if len(line) > self.MAX_LENGTH + 1:
            self.setLineMode(line[self.MAX_LENGTH + 1 :])


MIXED = b"""\
len 10

0123456789len 5

1234
len 20
foo 123

0123456789
012345678len 0
foo 5

1234567890123456789012345678901234567890123456789012345678901234567890
len 1

a"""

MIXED_OUTPUT = [
    b"len 10",
    b"0123456789",
    b"len 5",
    b"1234\n",
    b"len 20",
    b"foo 123",
    b"0123456789\n012345678",
    b"len 0",
    b"foo 5",
    b"",
    b"67890",
    b"len 1",
    b"a",
]


@pytest.mark.parametrize("size", range(1, 10))
def test_line_and_raw_modes_any_packet_size(size: int) -> None:
    """Lines, raw runs and over-long lines parse the same for every packet size."""
    proto = connected(LineTester())
    feedInPackets(proto, MIXED, size)
    assert proto.received == MIXED_OUTPUT


@pytest.mark.parametrize("size", range(1, 10))
def test_pause_inside_line_delivery(size: int) -> None:
    """Lines after a pause wait until resumeProducing."""
    clock = task.Clock()
    proto = connected(LineTester(clock))
    feedInPackets(proto, b"twiddle1\ntwiddle2\npause\ntwiddle3\n", size)
    assert proto.received == [b"twiddle1", b"twiddle2", b"pause"]
    clock.advance(0)
    assert proto.received == [b"twiddle1", b"twiddle2", b"pause", b"twiddle3"]


@pytest.mark.parametrize("size", range(1, 10))
def test_pause_then_raw_mode(size: int) -> None:
    """Pausing and switching to raw mode in one callback delivers raw data on resume."""
    clock = task.Clock()
    proto = connected(LineTester(clock))
    feedInPackets(proto, b"twiddle1\ntwiddle2\nlen 5\nrawpause\n12345twiddle3\n", size)
    assert proto.received == [b"twiddle1", b"twiddle2", b"len 5", b"rawpause", b""]
    clock.advance(0)
    assert proto.received == [
        b"twiddle1",
        b"twiddle2",
        b"len 5",
        b"rawpause",
        b"12345",
        b"twiddle3",
    ]


@pytest.mark.parametrize("size", range(1, 10))
def test_stop_producing_stops_delivery(size: int) -> None:
    """After stopProducing no more lines are delivered."""
    proto = connected(LineTester())
    feedInPackets(proto, b"twiddle1\ntwiddle2\nstop\nmore\nstuff\n", size)
    assert proto.received == [b"twiddle1", b"twiddle2", b"stop"]


def test_line_receiver_as_its_own_producer() -> None:
    """A LineReceiver can register itself as its transport's producer."""
    proto = connected(LineTester())
    proto.dataReceived(b"produce\nhello world\nunproduce\ngoodbye\n")
    assert proto.received == [b"produce", b"hello world", b"unproduce", b"goodbye"]


def test_clear_line_buffer_from_line_received() -> None:
    """clearLineBuffer returns and drops the rest of the buffer."""

    class Clearing(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.line = line
            self.rest = self.clearLineBuffer()

    proto = Clearing()
    proto.dataReceived(b"foo\r\nbar\r\nbaz")
    assert (proto.line, proto.rest) == (b"foo", b"bar\r\nbaz")
    proto.dataReceived(b"quux\r\n")
    assert (proto.line, proto.rest) == (b"quux", b"")


def test_mode_flipping_does_not_recurse() -> None:
    """Switching modes thousands of times on one chunk needs no recursion."""

    class Flipping(basic.LineReceiver):
        delimiter = b"\n"

        def __init__(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.setRawMode()

        def rawDataReceived(self, data: bytes) -> None:
            self.setLineMode(data[1:])

    proto = connected(Flipping())
    limit = sys.getrecursionlimit()
    proto.dataReceived(b"x\nx" * limit)
    assert b"".join(proto.lines) == b"x" * limit


def test_line_longer_than_max_closes() -> None:
    """By default a line over MAX_LENGTH closes the connection."""
    proto = connected(basic.LineReceiver())
    proto.dataReceived(b"x" * (proto.MAX_LENGTH + 1) + b"\r\nr")
    assert proto.transport.disconnecting


def test_line_of_exactly_max_split_delimiter_is_accepted() -> None:
    """A line of MAX_LENGTH whose delimiter arrives in pieces is accepted."""
    proto = connected(LineTester())
    proto.MAX_LENGTH = 4
    line = b"x" * 3
    proto.dataReceived(line)
    proto.dataReceived(proto.delimiter[:-1])
    proto.dataReceived(proto.delimiter[-1:] + line)
    assert not proto.transport.disconnecting
    assert proto.received == [line]


def test_unfinished_line_of_max_plus_part_of_delimiter_is_kept() -> None:
    """MAX_LENGTH bytes plus a partial delimiter do not count as too long yet."""
    proto = connected(basic.LineReceiver())
    proto.dataReceived(b"x" * proto.MAX_LENGTH + b"\r")
    assert not proto.transport.disconnecting


def test_raw_data_received_return_value_is_returned() -> None:
    """dataReceived returns what rawDataReceived returned (a true value)."""
    proto = connected(basic.LineReceiver())
    proto.rawDataReceived = lambda data: RuntimeError("oops")  # type: ignore[method-assign]
    proto.setRawMode()
    assert isinstance(proto.dataReceived(b"data"), RuntimeError)


def test_unimplemented_hooks_raise() -> None:
    """lineReceived, rawDataReceived and stringReceived must be overridden."""
    with pytest.raises(NotImplementedError):
        basic.LineReceiver().lineReceived(b"foo")
    with pytest.raises(NotImplementedError):
        basic.LineReceiver().rawDataReceived(b"foo")
    with pytest.raises(NotImplementedError):
        basic.LineOnlyReceiver().lineReceived(b"foo")
    with pytest.raises(NotImplementedError):
        basic.NetstringReceiver().stringReceived(b"foo")
    with pytest.raises(NotImplementedError):
        basic.IntNStringReceiver().stringReceived(b"foo")


def test_true_return_value_stops_parsing() -> None:
    """A true value from lineReceived stops parsing this chunk and is returned."""

    class Stopper(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> Any:
            self.lines.append(line)
            return line == b"stop" and "why"

    proto = connected(Stopper())
    assert proto.dataReceived(b"a\r\nstop\r\nb\r\n") == "why"
    assert proto.lines == [b"a", b"stop"]
    proto.dataReceived(b"")
    assert proto.lines == [b"a", b"stop", b"b"]


def test_lines_after_lose_connection_are_not_delivered() -> None:
    """Once the transport is disconnecting, the rest of the chunk is not parsed."""

    class Closer(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"quit":
                self.transport.loseConnection()

    proto = connected(Closer())
    proto.dataReceived(b"a\r\nquit\r\nb\r\nc\r\n")
    assert proto.lines == [b"a", b"quit"]


def test_reentrant_data_received_is_buffered_in_order() -> None:
    """dataReceived called from lineReceived only buffers; order is preserved."""

    class Reentrant(basic.LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"inject":
                self.dataReceived(b"injected\n")

    proto = connected(Reentrant())
    proto.dataReceived(b"inject\nafter\n")
    assert proto.lines == [b"inject", b"after", b"injected"]


def test_delimiter_changed_between_lines() -> None:
    """A delimiter changed in lineReceived applies to the next line."""

    class Switcher(basic.LineReceiver):
        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            if line == b"switch":
                self.delimiter = b";"

    proto = connected(Switcher())
    proto.dataReceived(b"a\r\nswitch\r\nb;c\r\nd;")
    assert proto.lines == [b"a", b"switch", b"b", b"c\r\nd"]


class LongLineCatcher(basic.LineReceiver):
    def connectionMade(self) -> None:
        self.longLines: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        pass

    def lineLengthExceeded(self, line: bytes) -> None:
        self.longLines.append(line)


@pytest.fixture
def catcher() -> LongLineCatcher:
    proto = LongLineCatcher()
    proto.MAX_LENGTH = 6
    return connected(proto)  # type: ignore[no-any-return]


def test_long_unended_line_passed_whole(catcher: LongLineCatcher) -> None:
    """Too many bytes without a delimiter go to lineLengthExceeded in one piece."""
    excessive = b"x" * (catcher.MAX_LENGTH * 2 + 2)
    catcher.dataReceived(excessive)
    assert catcher.longLines == [excessive]


def test_long_line_after_short_line(catcher: LongLineCatcher) -> None:
    """Only the bytes after the short line are passed to lineLengthExceeded."""
    excessive = b"x" * (catcher.MAX_LENGTH * 2 + 2)
    catcher.dataReceived(b"x" + catcher.delimiter + excessive)
    assert catcher.longLines == [excessive]


def test_long_line_with_delimiter_passes_the_rest(catcher: LongLineCatcher) -> None:
    """A long complete line is passed together with everything after it."""
    excessive = catcher.delimiter.join([b"x" * (catcher.MAX_LENGTH * 2 + 2)] * 2)
    catcher.dataReceived(excessive)
    assert catcher.longLines == [excessive]


def test_multiple_long_lines(catcher: LongLineCatcher) -> None:
    """Several long lines in one chunk are passed as one string."""
    excessive = (b"x" * (catcher.MAX_LENGTH * 2 + 2) + catcher.delimiter) * 2
    catcher.dataReceived(excessive)
    assert catcher.longLines == [excessive]


def test_line_buffer_never_exceeds_limit(catcher: LongLineCatcher) -> None:
    """A peer sending an endless line never makes the buffer exceed the limit."""
    chunk = b"y" * 1000
    for _ in range(1000):
        catcher.dataReceived(chunk)
        assert catcher._lineBuffer is not None
        assert catcher._lineBuffer.bufferedSize() < catcher.MAX_LENGTH + len(chunk) + 2
    assert sum(map(len, catcher.longLines)) == 1000 * len(chunk)


@settings(max_examples=150)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"")), max_size=15),
    points=cutPoints,
)
def test_line_receiver_same_for_every_split(lines: list[bytes], points: list[int]) -> None:
    """Lines within the limit are delivered the same however the stream is cut."""

    class Collect(basic.LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.lines: list[bytes] = []

        def lineReceived(self, line: bytes) -> None:
            self.lines.append(line)
            self.sendLine(line[::-1])

    data = b"".join(line + b"\n" for line in lines)
    for chunks in splittings(data, points):
        proto = connected(Collect())
        for chunk in chunks:
            proto.dataReceived(chunk)
        assert proto.lines == lines
        assert proto.transport.value() == b"".join(line[::-1] + b"\n" for line in lines)


# -- LineOnlyReceiver --------------------------------------------------------------


class LineOnlyTester(basic.LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 64

    def connectionMade(self) -> None:
        self.received: list[bytes] = []

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)


def test_line_only_byte_by_byte() -> None:
    """LineOnlyReceiver parses a stream fed one byte at a time."""
    data = b"foo\n    bleakness\n    desolation\n    plastic forks\n"
    proto = connected(LineOnlyTester())
    for i in range(len(data)):
        proto.dataReceived(data[i : i + 1])
    assert proto.received == data.split(b"\n")[:-1]


def test_line_only_long_line_closes() -> None:
    """A line over MAX_LENGTH closes the connection."""
    proto = connected(LineOnlyTester())
    proto.dataReceived(b"x" * (proto.MAX_LENGTH + len(proto.delimiter) + 1) + b"\r\nr")
    assert proto.transport.disconnecting


def test_line_only_send_line_uses_one_write_sequence() -> None:
    """sendLine writes the line and the delimiter with writeSequence."""
    calls = []

    class Recording(StringTransport):
        def writeSequence(self, data: Any) -> None:
            calls.append(tuple(data))
            super().writeSequence(data)

    proto = connected(LineOnlyTester(), Recording())
    proto.sendLine(b"hello")
    assert calls == [(b"hello", b"\n")]


def test_line_only_drops_lines_after_disconnect() -> None:
    """Lines after the one that closed the connection are dropped."""

    class Closer(LineOnlyTester):
        def lineReceived(self, line: bytes) -> None:
            super().lineReceived(line)
            if line == b"quit":
                self.transport.loseConnection()

    proto = connected(Closer())
    proto.dataReceived(b"a\nquit\nb\nc")
    proto.transport.disconnecting = False
    proto.dataReceived(b"\nd\n")
    assert proto.received == [b"a", b"quit", b"c", b"d"]


def test_line_only_buffer_bounded() -> None:
    """An endless line is reported and dropped, so the buffer stays bounded."""

    class Catch(LineOnlyTester):
        def lineLengthExceeded(self, line: bytes) -> None:
            self.received.append(b"TOO LONG %d" % len(line))

    proto = connected(Catch())
    for _ in range(500):
        proto.dataReceived(b"z" * 50)
        assert proto._lineBuffer.bufferedSize() <= proto.MAX_LENGTH + 50
    proto.dataReceived(b"\nok\n")
    assert proto.received[-1] == b"ok"


# -- producers -------------------------------------------------------------------------


class OnlyProducerTransport:
    paused = False
    disconnecting = False

    def __init__(self) -> None:
        self.data: list[bytes] = []

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.data.append(data)


def test_pause_resume_delivers_waiting_lines() -> None:
    """A receiver that pauses after each line gets one line per resume."""

    class Consuming(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.transport.write(line)
            self.pauseProducing()

    p = Consuming()
    t = OnlyProducerTransport()
    p.makeConnection(t)
    p.dataReceived(b"hello, ")
    assert (t.data, t.paused, p.paused) == ([], False, False)
    p.dataReceived(b"world\r\n")
    assert (t.data, t.paused, p.paused) == ([b"hello, world"], True, True)
    p.resumeProducing()
    assert (t.data, t.paused, p.paused) == ([b"hello, world"], False, False)
    p.dataReceived(b"hello\r\nworld\r\n")
    assert (t.data, t.paused) == ([b"hello, world", b"hello"], True)
    p.resumeProducing()
    assert (t.data, t.paused) == ([b"hello, world", b"hello", b"world"], True)
    p.dataReceived(b"goodbye\r\n")
    assert t.data == [b"hello, world", b"hello", b"world"]
    p.resumeProducing()
    assert (t.data, t.paused) == ([b"hello, world", b"hello", b"world", b"goodbye"], True)
    p.resumeProducing()
    assert (t.data, t.paused, p.paused) == (
        [b"hello, world", b"hello", b"world", b"goodbye"],
        False,
        False,
    )


def test_many_pauses_in_one_chunk_are_linear() -> None:
    """Pausing after every line of a big chunk re-parses nothing."""

    class Consuming(basic.LineReceiver):
        delimiter = b"\n"

        def connectionMade(self) -> None:
            self.count = 0

        def lineReceived(self, line: bytes) -> None:
            self.count += 1
            self.pauseProducing()

    p = Consuming()
    p.makeConnection(OnlyProducerTransport())
    p.dataReceived(b"x\n" * 20000)
    while p.paused:
        p.resumeProducing()
    assert p.count == 20000
    assert p._lineBuffer is not None and p._lineBuffer.bufferedSize() == 0
