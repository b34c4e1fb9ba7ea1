"""torsion.protocols.basic on StringTransport: Twisted's scenarios and torsion's bounds."""

from __future__ import annotations

import struct
import sys
from io import BytesIO
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocols.splits import cutPoints, splittings
from torsion.internet import task
from torsion.internet.testing import StringTransport
from torsion.protocols import basic
from torsion.python.failure import Failure


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


def connected(proto: Any, transport: Any = None) -> Any:
    transport = StringTransport() if transport is None else transport
    proto.makeConnection(transport)
    return proto


def feedInPackets(proto: Any, data: bytes, size: int) -> None:
    for i in range(len(data) // size + 1):
        proto.dataReceived(data[i * size : (i + 1) * size])


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


# -- NetstringReceiver -----------------------------------------------------------------


class TestNetstring(basic.NetstringReceiver):
    MAX_LENGTH = 50

    def connectionMade(self) -> None:
        self.received: list[bytes] = []

    def stringReceived(self, s: bytes) -> None:
        self.received.append(s)
        self.transport.write(s)


NETSTRINGS = [b"hello", b"world", b"how", b"are", b"you123", b":today", b"a" * 515]


@pytest.mark.parametrize("size", range(1, 10))
def test_netstrings_any_packet_size(size: int) -> None:
    """Netstrings sent with sendString are received for every packet size."""
    proto = TestNetstring()
    proto.MAX_LENGTH = 699
    connected(proto)
    for s in NETSTRINGS:
        proto.sendString(s)
    out = proto.transport.value()
    feedInPackets(proto, out, size)
    assert proto.received == NETSTRINGS


@pytest.mark.parametrize(
    "data",
    [
        b"9999999999999999999999",
        b"abc",
        b"4:abcde",
        b"51:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab,",
        b"2:aaa,",
        b"0:a,",
        b":aaa,",
        b"3aaa,",
        b"aaa,",
        b"aaa",
    ],
)
def test_illegal_netstrings_close_and_mark_broken(data: bytes) -> None:
    """Invalid netstrings close the connection and set brokenPeer."""
    proto = connected(TestNetstring())
    for i in range(len(data)):
        proto.dataReceived(data[i : i + 1])
    assert proto.transport.disconnecting
    assert proto.brokenPeer == 1


def test_netstring_portions() -> None:
    """A netstring split anywhere, even inside its length, is received once."""
    proto = connected(TestNetstring())
    for part in [b"1", b"0:01234", b"56789", b","]:
        proto.dataReceived(part)
    assert proto.received == [b"0123456789"]


def test_netstrings_keep_parsing_after_close() -> None:
    """Like Twisted, strings after one that closed the connection still arrive."""

    class Closer(TestNetstring):
        def stringReceived(self, s: bytes) -> None:
            super().stringReceived(s)
            self.transport.loseConnection()

    proto = connected(Closer())
    proto.dataReceived(b"1:a,1:b,")
    assert proto.received == [b"a", b"b"]


# -- Int8/16/32StringReceiver -----------------------------------------------------------


def intNClass(base: type[basic.IntNStringReceiver]) -> type[basic.IntNStringReceiver]:
    class Tester(base):  # type: ignore[valid-type, misc]
        MAX_LENGTH = 50

        def connectionMade(self) -> None:
            self.received: list[bytes] = []

        def stringReceived(self, s: bytes) -> None:
            self.received.append(s)

    return Tester


INT_CASES = [
    (basic.Int32StringReceiver, [b"\x00\x00\x00", b"hello there", b""]),
    (basic.Int16StringReceiver, [b"\x00", b"hello there", b""]),
    (basic.Int8StringReceiver, [b"", b"\x01", b"\x02h"]),
]


@pytest.mark.parametrize(("base", "partial"), INT_CASES)
def test_intn_receive_byte_by_byte(base: Any, partial: list[bytes]) -> None:
    """Prefixed strings fed byte by byte are received."""
    proto = connected(intNClass(base)())
    strings = [b"a", b"b" * 16]
    for s in strings:
        data = struct.pack(proto.structFormat, len(s)) + s
        for i in range(len(data)):
            proto.dataReceived(data[i : i + 1])
    assert proto.received == strings
    for chunk in partial:
        fresh = connected(intNClass(base)())
        for i in range(len(chunk)):
            fresh.dataReceived(chunk[i : i + 1])
        assert fresh.received == []


@pytest.mark.parametrize(("base", "partial"), INT_CASES)
def test_intn_send(base: Any, partial: list[bytes]) -> None:
    """sendString writes the prefix and the string in one write."""
    proto = connected(intNClass(base)())
    proto.sendString(b"b" * 16)
    assert proto.transport.value() == struct.pack(proto.structFormat, 16) + b"b" * 16


@pytest.mark.parametrize(("base", "partial"), INT_CASES)
def test_intn_length_limit(base: Any, partial: list[bytes]) -> None:
    """A prefix over MAX_LENGTH calls lengthLimitExceeded; the string never arrives."""
    proto = connected(intNClass(base)())
    lengths: list[int] = []
    proto.lengthLimitExceeded = lengths.append  # type: ignore[method-assign]
    proto.MAX_LENGTH = 10
    proto.dataReceived(struct.pack(proto.structFormat, 11) + b"x" * 11)
    assert lengths == [11]
    assert proto.received == []
    with pytest.raises(AssertionError):
        proto.sendString(Sized(2 ** (proto.prefixLength * 8) + 1))


class Sized(bytes):
    """Claims a length without holding that many bytes (for the send limits)."""

    def __new__(cls, size: int) -> Sized:
        return super().__new__(cls, b"x")

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def test_intn_default_limit_closes() -> None:
    """By default an oversized prefix closes the connection."""
    proto = connected(intNClass(basic.Int32StringReceiver)())
    proto.dataReceived(b"\x10\x00\x00\x00aaaaaa")
    assert proto.transport.disconnecting


def test_string_too_long_error() -> None:
    """sendString raises StringTooLongError (an AssertionError) past the prefix range."""
    proto = connected(intNClass(basic.Int8StringReceiver)())
    with pytest.raises(basic.StringTooLongError, match="256"):
        proto.sendString(b"x" * 256)
    proto.sendString(b"x" * 255)
    assert proto.transport.value()[:1] == b"\xff"


def test_intn_buffer_bounded_after_limit() -> None:
    """Data after an oversized prefix is not buffered without bound."""
    proto = connected(intNClass(basic.Int32StringReceiver)())
    proto.lengthLimitExceeded = lambda length: None  # type: ignore[method-assign]
    proto.dataReceived(struct.pack("!I", 10**6))
    for _ in range(200):
        proto.dataReceived(b"x" * 1000)
        assert len(proto.recvd) == 4


def makeMessage(proto: Any, data: bytes) -> bytes:
    return struct.pack(proto.structFormat, len(data)) + data


@pytest.mark.parametrize("base", [c for c, _ in INT_CASES])
def test_recvd_holds_the_rest(base: Any) -> None:
    """Inside stringReceived, recvd is the data after the current string."""
    proto = connected(intNClass(base)())
    seen = []
    proto.stringReceived = lambda s: seen.append(proto.recvd)  # type: ignore[method-assign]
    incomplete = struct.pack(proto.structFormat, 5) + b"b" * 4
    proto.dataReceived(makeMessage(proto, b"a" * 5) + incomplete)
    assert seen == [incomplete]


@pytest.mark.parametrize("base", [c for c, _ in INT_CASES])
def test_recvd_assignment_replaces_the_rest(base: Any) -> None:
    """Assigning recvd from stringReceived makes parsing continue from it."""
    proto = connected(intNClass(base)())
    result: list[bytes] = []
    messageC = makeMessage(proto, b"c" * 5)

    def stringReceived(s: bytes) -> None:
        if not result:
            proto.recvd = messageC
        result.append(s)

    proto.stringReceived = stringReceived  # type: ignore[method-assign]
    proto.dataReceived(makeMessage(proto, b"a" * 5) + makeMessage(proto, b"b" * 5))
    assert result == [b"a" * 5, b"c" * 5]


@pytest.mark.parametrize("base", [c for c, _ in INT_CASES])
def test_recvd_consumed_by_application(base: Any) -> None:
    """Bytes the application removes from recvd are not parsed again."""
    proto = connected(intNClass(base)())
    switch = b"\x00\x00\x00\x00"
    strings = [b"a", b"b" * 16]
    mix = b"".join(makeMessage(proto, s) + switch for s in strings)
    result: list[bytes] = []

    def stringReceived(s: bytes) -> None:
        result.append(s)
        proto.recvd = proto.recvd[len(switch) :]

    proto.stringReceived = stringReceived  # type: ignore[method-assign]
    proto.dataReceived(mix)
    proto.dataReceived(b"\x01")
    assert result == strings
    assert proto.recvd == b"\x01"


@pytest.mark.parametrize("base", [c for c, _ in INT_CASES])
def test_recvd_in_length_limit_exceeded(base: Any) -> None:
    """Inside lengthLimitExceeded, recvd holds everything not processed."""
    proto = connected(intNClass(base)())
    proto.MAX_LENGTH = 7
    message = makeMessage(proto, b"too long")
    result: list[Any] = []
    proto.lengthLimitExceeded = lambda n: result.extend([n, proto.recvd])  # type: ignore[method-assign]
    proto.dataReceived(message)
    assert result == [8, message]


def test_intn_stops_while_paused() -> None:
    """A paused receiver delivers nothing until resumed."""

    class Pausing(intNClass(basic.Int16StringReceiver)):  # type: ignore[misc]
        def stringReceived(self, s: bytes) -> None:
            super().stringReceived(s)
            if s == b"pause":
                self.pauseProducing()

    proto = connected(Pausing())
    proto.dataReceived(b"".join(makeMessage(proto, s) for s in [b"a", b"pause", b"b", b"c"]))
    assert proto.received == [b"a", b"pause"]
    assert proto.transport.producerState == "paused"
    proto.resumeProducing()
    assert proto.received == [b"a", b"pause", b"b", b"c"]
    assert proto.transport.producerState == "producing"


def test_intn_synchronous_pause_resume_in_callback() -> None:
    """Pausing and resuming inside stringReceived delivers every string once, in order."""

    class Bouncing(intNClass(basic.Int8StringReceiver)):  # type: ignore[misc]
        def stringReceived(self, s: bytes) -> None:
            super().stringReceived(s)
            if s == b"p":
                self.pauseProducing()
                self.resumeProducing()

    proto = connected(Bouncing())
    proto.dataReceived(b"\x01a\x01p\x01b\x01c")
    assert proto.received == [b"a", b"p", b"b", b"c"]


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


# -- StatefulStringProtocol and FileSender --------------------------------------------------


def test_stateful_string_protocol_routes_by_state() -> None:
    """Each string goes to proto_<state>; the state 'done' closes."""

    class Stateful(basic.StatefulStringProtocol, basic.Int8StringReceiver):
        def connectionMade(self) -> None:
            self.seen: list[Any] = []

        def proto_init(self, s: bytes) -> str:
            self.seen.append(("init", s))
            return "next"

        def proto_next(self, s: bytes) -> str:
            self.seen.append(("next", s))
            return "done"

    proto = connected(Stateful())
    proto.dataReceived(b"\x01a\x01b\x01c")
    assert proto.seen == [("init", b"a"), ("next", b"b")]
    assert proto.transport.disconnecting


def test_file_sender_registers_as_pull_producer() -> None:
    """beginFileTransfer registers the sender as a non-streaming producer."""
    consumer = StringTransport()
    sender = basic.FileSender()
    sender.beginFileTransfer(BytesIO(b"Test content"), consumer)
    assert consumer.producer is sender
    assert not consumer.streaming


def test_file_sender_transfers_in_chunks() -> None:
    """Each resumeProducing sends CHUNK_SIZE bytes; the end fires the last byte."""
    consumer = StringTransport()
    sender = basic.FileSender()
    sender.CHUNK_SIZE = 4
    d = sender.beginFileTransfer(BytesIO(b"Test content"), consumer)
    results: list[Any] = []
    d.addCallback(results.append)
    for expected in (b"Test", b"Test con", b"Test content"):
        sender.resumeProducing()
        assert consumer.value() == expected
    assert results == []
    sender.resumeProducing()
    assert results == [b"t"]
    assert consumer.producer is None


def test_file_sender_transform() -> None:
    """The transform function is applied to every chunk."""
    consumer = StringTransport()
    sender = basic.FileSender()
    d = sender.beginFileTransfer(BytesIO(b"Test content"), consumer, bytes.swapcase)
    results: list[Any] = []
    d.addCallback(results.append)
    sender.resumeProducing()
    sender.resumeProducing()
    assert consumer.value() == b"tEST CONTENT"
    assert results == [b"T"]


def test_file_sender_stop_fails_the_deferred() -> None:
    """stopProducing before the end fails the Deferred with an Exception."""
    consumer = StringTransport()
    sender = basic.FileSender()
    d = sender.beginFileTransfer(BytesIO(b"Test content"), consumer)
    sender.stopProducing()
    failures: list[Failure] = []
    d.addErrback(failures.append)
    assert [f.getErrorMessage() for f in failures] == ["Consumer asked us to stop producing"]


def test_file_sender_empty_file() -> None:
    """An empty file fires the Deferred at once with b''."""
    consumer = StringTransport()
    sender = basic.FileSender()
    d = sender.beginFileTransfer(BytesIO(b""), consumer)
    results: list[Any] = []
    d.addCallback(results.append)
    sender.resumeProducing()
    assert results == [b""]
