"""Netstring and Int8/16/32 string receivers, StatefulStringProtocol, FileSender."""

from __future__ import annotations

import struct
from io import BytesIO
from typing import Any

import pytest

from tests.protocols.helpers import connected, feedInPackets
from torsion.internet.testing import StringTransport
from torsion.protocols import basic
from torsion.python.failure import Failure

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
