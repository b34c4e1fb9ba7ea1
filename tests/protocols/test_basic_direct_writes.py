"""sendLine / sendString adding to a torsion transport's pending writes directly.

Inside a dispatch, ``LineReceiver.sendLine`` and ``IntNStringReceiver.sendString``
skip ``transport.write`` when the transport is torsion's own ``Connection``
(one Python call less per message).  These tests pin down that the shortcut
is invisible (same bytes, same order, same errors) and never taken through
a wrapper or a subclass with its own ``write``.  Unlike ``write`` it has no
count bound: the writes of one callback go out together when it returns.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.internet.test_write_coalescing import RecordingTransport
from torsion.internet._stream import Connection
from torsion.internet._streamextras import FLUSH_COUNT
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.protocols import basic


class Echo(basic.LineReceiver):
    def lineReceived(self, line: bytes) -> None:
        self.sendLine(line)


class StringEcho(basic.Int32StringReceiver):
    def stringReceived(self, string: bytes) -> None:
        self.sendString(string)


class ForwardingTransport:
    """A user's transport wrapper: its own write, everything else forwarded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seen: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.seen.append(data)
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class CountingConnection(Connection):
    """A Connection subclass with its own write."""

    def __init__(self, reactor: Any) -> None:
        super().__init__(reactor)
        self.calls = 0

    def write(self, data: bytes) -> None:
        self.calls += 1
        super().write(data)


def attach(
    reactor: AsyncioReactor, proto: Any, cls: type[Connection] = Connection
) -> tuple[Connection, RecordingTransport]:
    conn = cls(reactor)
    t = RecordingTransport()
    conn._t = t
    conn._startProtocol(proto)
    return conn, t


def lines(count: int) -> bytes:
    return b"".join(b"line %d\r\n" % i for i in range(count))


def test_lines_answered_in_one_write(bare_reactor: AsyncioReactor) -> None:
    conn, t = attach(bare_reactor, Echo())
    conn.data_received(lines(10))
    assert t.writes == [lines(10)]


def test_sendline_collects_a_whole_packet(bare_reactor: AsyncioReactor) -> None:
    """More lines than FLUSH_COUNT in one packet: still one write, in order.

    The direct path has no count bound (Twisted too sends nothing before the
    callback returns); the packet itself bounds what one dispatch collects.
    """
    total = 2 * FLUSH_COUNT + 7
    conn, t = attach(bare_reactor, Echo())
    conn.data_received(lines(total))
    assert t.writes == [lines(total)]


def test_write_after_many_sendlines_flushes_them_in_order(
    bare_reactor: AsyncioReactor,
) -> None:
    """transport.write keeps its bound and hands over what sendLine collected."""

    class Burst(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            for i in range(FLUSH_COUNT + 1):
                self.sendLine(b"%d" % i)
            self.transport.write(b"end\r\n")
            assert self.transport._pending == []

    conn, t = attach(bare_reactor, Burst())
    conn.data_received(b"go\r\n")
    expected = b"".join(b"%d\r\n" % i for i in range(FLUSH_COUNT + 1)) + b"end\r\n"
    assert b"".join(t.writes) == expected
    assert len(t.writes) == 1


def test_sendstring_collects_a_whole_packet(bare_reactor: AsyncioReactor) -> None:
    total = 2 * FLUSH_COUNT + 7
    payload = b"".join(b"\x00\x00\x00\x01" + bytes([65 + i % 26]) for i in range(total))
    conn, t = attach(bare_reactor, StringEcho())
    conn.data_received(payload)
    assert t.writes == [payload]


def test_mixed_sendline_and_write_keep_their_order(bare_reactor: AsyncioReactor) -> None:
    class Mixed(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.transport.write(b"<")
            self.sendLine(line)
            self.transport.writeSequence([b">", b"\r\n"])

    conn, t = attach(bare_reactor, Mixed())
    conn.data_received(b"a\r\nb\r\n")
    assert t.writes == [b"<a\r\n>\r\n<b\r\n>\r\n"]


@pytest.mark.parametrize("line", [bytearray(b"x"), memoryview(b"x"), "x"])
def test_non_bytes_line_raises_inside_dispatch(bare_reactor: AsyncioReactor, line: Any) -> None:
    """As Twisted's transport.write: only bytes; the error reaches the caller."""
    errors: list[type[BaseException]] = []

    class Sender(basic.LineReceiver):
        def lineReceived(self, _: bytes) -> None:
            try:
                self.sendLine(line)
            except TypeError as e:
                errors.append(type(e))

    conn, t = attach(bare_reactor, Sender())
    conn.data_received(b"go\r\n")
    assert errors == [TypeError] and t.writes == []


def test_forwarding_wrapper_write_is_not_bypassed(bare_reactor: AsyncioReactor) -> None:
    proto = Echo()
    conn, t = attach(bare_reactor, proto)
    wrapper = ForwardingTransport(conn)
    proto.transport = wrapper
    conn.data_received(b"a\r\nb\r\n")
    assert wrapper.seen == [b"a\r\n", b"b\r\n"]
    assert t.writes == [b"a\r\nb\r\n"]


def test_forwarding_wrapper_sendstring(bare_reactor: AsyncioReactor) -> None:
    proto = StringEcho()
    conn, t = attach(bare_reactor, proto)
    wrapper = ForwardingTransport(conn)
    proto.transport = wrapper
    conn.data_received(b"\x00\x00\x00\x02hi")
    assert wrapper.seen == [b"\x00\x00\x00\x02hi"]
    assert t.writes == [b"\x00\x00\x00\x02hi"]


def test_subclass_with_its_own_write_sees_every_line(bare_reactor: AsyncioReactor) -> None:
    conn, t = attach(bare_reactor, Echo(), CountingConnection)
    conn.data_received(lines(5))
    assert isinstance(conn, CountingConnection) and conn.calls == 5
    assert t.writes == [lines(5)]


def test_sendline_after_lose_connection_is_dropped(bare_reactor: AsyncioReactor) -> None:
    class Closer(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.sendLine(line)
            if line == b"bye":
                self.transport.loseConnection()
                self.sendLine(b"dropped")

    conn, t = attach(bare_reactor, Closer())
    conn.data_received(b"hi\r\nbye\r\nlater\r\n")
    assert t.writes == [b"hi\r\nbye\r\n"] and t.closed


def test_sendline_outside_dispatch_goes_straight_through(bare_reactor: AsyncioReactor) -> None:
    proto = Echo()
    conn, t = attach(bare_reactor, proto)
    proto.sendLine(b"now")
    assert t.writes == [b"now\r\n"]


def test_strings_answered_in_one_write(bare_reactor: AsyncioReactor) -> None:
    conn, t = attach(bare_reactor, StringEcho())
    data = b"".join(len(s).to_bytes(4, "big") + s for s in (b"a", b"bc", b""))
    conn.data_received(data)
    assert t.writes == [data]


@pytest.mark.parametrize("string", [bytearray(b"hi"), memoryview(b"hi")])
def test_sendstring_takes_bytes_like_strings_as_twisted(
    bare_reactor: AsyncioReactor, string: Any
) -> None:
    """Twisted sends ``prefix + string``, which is bytes for any bytes-like string."""

    class Sender(basic.Int32StringReceiver):
        def stringReceived(self, _: bytes) -> None:
            self.sendString(string)

    conn, t = attach(bare_reactor, Sender())
    conn.data_received(b"\x00\x00\x00\x01x")
    assert t.writes == [b"\x00\x00\x00\x02hi"]
    assert all(type(w) is bytes for w in t.writes)


def test_sendstring_of_text_raises_inside_dispatch(bare_reactor: AsyncioReactor) -> None:
    errors: list[type[BaseException]] = []

    class Sender(basic.Int32StringReceiver):
        def stringReceived(self, _: bytes) -> None:
            try:
                self.sendString("hi")  # type: ignore[arg-type]
            except TypeError as e:
                errors.append(type(e))

    conn, t = attach(bare_reactor, Sender())
    conn.data_received(b"\x00\x00\x00\x01x")
    assert errors == [TypeError] and t.writes == []


def test_bytes_subclass_write_does_not_flush_early(bare_reactor: AsyncioReactor) -> None:
    """A bytes subclass takes write()'s slower path but is still coalesced."""

    class Tagged(bytes):
        pass

    class Mixed(basic.LineReceiver):
        def lineReceived(self, line: bytes) -> None:
            self.transport.write(Tagged(b"<"))
            self.sendLine(line)

    conn, t = attach(bare_reactor, Mixed())
    conn.data_received(b"a\r\nb\r\n")
    assert t.writes == [b"<a\r\n<b\r\n"]
