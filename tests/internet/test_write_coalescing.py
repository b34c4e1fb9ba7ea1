"""Write coalescing in Connection, driven directly with a recording asyncio transport.

No sockets: each Connection gets a fake asyncio transport that records the
``write`` calls the loop would see, and the asyncio callbacks
(``data_received``) are called by hand, as the event loop would.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.internet import error, protocol
from torsion.internet._stream import Connection
from torsion.internet.asyncioreactor import AsyncioReactor


class RecordingTransport:
    """The part of an asyncio transport Connection uses; records writes."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Scripted(protocol.Protocol):
    """Runs ``script(self, data)`` for every chunk received."""

    def __init__(self, script: Any) -> None:
        self.script = script
        self.lostReason: Any = None

    def dataReceived(self, data: bytes) -> None:
        self.script(self, data)

    def connectionLost(self, reason: Any) -> None:
        self.lostReason = reason


def attach(reactor: AsyncioReactor, script: Any = None) -> tuple[Connection, RecordingTransport]:
    conn = Connection(reactor)
    t = RecordingTransport()
    conn._t = t
    conn._startProtocol(Scripted(script or (lambda p, data: None)))
    return conn, t


def test_single_write_is_passed_through_unchanged(bare_reactor: AsyncioReactor) -> None:
    """One write in dataReceived reaches the loop once, as the same bytes object."""
    conn, t = attach(bare_reactor, lambda p, data: p.transport.write(data))
    payload = b"x" * 1024
    conn.data_received(payload)
    assert len(t.writes) == 1 and t.writes[0] is payload


def test_many_writes_in_data_received_become_one(bare_reactor: AsyncioReactor) -> None:
    """Line-by-line writes inside one dataReceived reach the loop as one write."""

    def echoLines(p: Any, data: bytes) -> None:
        for line in data.split(b"\n")[:-1]:
            p.transport.write(line + b"\n")

    conn, t = attach(bare_reactor, echoLines)
    message = b"".join(b"line %d\n" % i for i in range(64))
    conn.data_received(message)
    assert t.writes == [message]
    conn.data_received(b"again\n")
    assert t.writes == [message, b"again\n"]


def test_writes_to_another_connection_are_flushed_after_dispatch(
    bare_reactor: AsyncioReactor,
) -> None:
    """Writes to another transport during dataReceived go out once, when it returns."""
    other, otherT = attach(bare_reactor)
    seen: list[int] = []

    def relay(p: Any, data: bytes) -> None:
        other.write(data[:2])
        other.write(data[2:])
        p.transport.write(b"ack")
        seen.append(len(otherT.writes))

    conn, t = attach(bare_reactor, relay)
    conn.data_received(b"hello")
    assert seen == [0]
    assert otherT.writes == [b"hello"] and t.writes == [b"ack"]
    assert bare_reactor._dirty == [] and not bare_reactor._dispatching


def test_flush_count_bounds_pending_inside_data_received(bare_reactor: AsyncioReactor) -> None:
    """More writes than the flush count in one dataReceived go out early, in order."""
    from torsion.internet._streamextras import FLUSH_COUNT

    total = 3 * FLUSH_COUNT + 5

    def writeMuch(p: Any, data: bytes) -> None:
        for i in range(total):
            p.transport.write(b"%05d" % i)
            assert len(p.transport._pending) <= FLUSH_COUNT

    conn, t = attach(bare_reactor, writeMuch)
    conn.data_received(b"go")
    assert len(t.writes) == 4
    assert b"".join(t.writes) == b"".join(b"%05d" % i for i in range(total))
    assert conn._pending == []


def test_write_outside_dispatch_goes_straight_through(bare_reactor: AsyncioReactor) -> None:
    """A write made outside any dispatch reaches the loop at once."""
    conn, t = attach(bare_reactor)
    conn.write(b"now")
    assert t.writes == [b"now"]


def test_lose_connection_in_data_received_flushes_first(bare_reactor: AsyncioReactor) -> None:
    """Writes then loseConnection() inside dataReceived: the bytes go out before close."""

    def writeAndClose(p: Any, data: bytes) -> None:
        p.transport.write(b"bye")
        p.transport.write(b"!")
        p.transport.loseConnection()
        p.transport.write(b"dropped")

    conn, t = attach(bare_reactor, writeAndClose)
    conn.data_received(b"x")
    assert t.writes == [b"bye!"] and t.closed and not t.aborted


def test_exception_in_data_received_discards_pending(
    bare_reactor: AsyncioReactor, logged_errors: Any
) -> None:
    """Writes before an exception in dataReceived are not sent; the connection aborts."""

    def writeThenRaise(p: Any, data: bytes) -> None:
        p.transport.write(b"partial")
        raise ValueError("boom")

    conn, t = attach(bare_reactor, writeThenRaise)
    conn.data_received(b"x")
    assert t.writes == [] and t.aborted
    conn.connection_lost(None)
    assert conn.protocol.lostReason.check(ValueError)
    assert not bare_reactor._dispatching
    logged_errors.flush(ValueError)


def test_nested_dispatch_does_not_flush_early(bare_reactor: AsyncioReactor) -> None:
    """A dispatch started inside dataReceived leaves the flush to dataReceived's end."""
    counts: list[int] = []

    def nested(p: Any, data: bytes) -> None:
        p.transport.write(b"a")
        bare_reactor._dispatch(p.transport.write, b"b")
        counts.append(len(t.writes))
        p.transport.write(b"c")

    conn, t = attach(bare_reactor, nested)
    conn.data_received(b"x")
    assert counts == [0] and t.writes == [b"abc"]


def test_write_after_connection_lost_is_dropped(bare_reactor: AsyncioReactor) -> None:
    """After connection_lost, writes (in or out of a dispatch) are dropped."""
    conn, t = attach(bare_reactor)
    conn.connection_lost(None)
    assert conn.protocol.lostReason.check(error.ConnectionDone)
    conn.write(b"late")
    bare_reactor._dispatch(conn.write, b"later")
    assert t.writes == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.binary(min_size=0, max_size=30000)),
        max_size=12,
    )
)
def test_any_writes_arrive_in_order_once_per_transport(writes: list[tuple[int, bytes]]) -> None:
    """Any mix of writes to three transports in one dataReceived arrives complete and in order."""
    loop = asyncio.new_event_loop()
    try:
        reactor = AsyncioReactor(loop)
        others = [attach(reactor) for _ in range(2)]

        def script(p: Any, data: bytes) -> None:
            for target, chunk in writes:
                (p.transport if target == 0 else others[target - 1][0]).write(chunk)

        conn, t = attach(reactor, script)
        conn.data_received(b"go")
        transports = [t] + [o[1] for o in others]
        for i, rt in enumerate(transports):
            expected = b"".join(chunk for target, chunk in writes if target == i)
            assert b"".join(rt.writes) == expected
            # One write per transport unless the flush limit forced earlier ones.
            assert len(rt.writes) <= 1 + len(expected) // 65536
        assert reactor._dirty == [] and not reactor._dispatching
    finally:
        loop.close()


def test_write_after_inline_flush_is_not_lost(bare_reactor: AsyncioReactor) -> None:
    """A write in a later callback, after data_received flushed inline, still goes out."""

    def twoWrites(p: Any, data: bytes) -> None:
        p.transport.write(b"a")
        p.transport.write(b"b")

    conn, t = attach(bare_reactor, twoWrites)
    conn.data_received(b"x")
    assert t.writes == [b"ab"]
    bare_reactor._dispatch(conn.write, b"later")
    assert t.writes == [b"ab", b"later"]
