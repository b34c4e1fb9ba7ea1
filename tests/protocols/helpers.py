"""Shared helpers of the protocol tests: ways to cut a stream, connecting to a transport."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from torsion.internet.testing import StringTransport


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, sorted)."""
    if not data:
        return [data]
    offsets = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def splittings(data: bytes, points: list[int]) -> Iterator[list[bytes]]:
    """The three ways every parser test feeds a stream: whole, per byte, random cuts."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    yield cut(data, points)


cutPoints = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


def connected(proto: Any, transport: Any = None) -> Any:
    """``proto`` after makeConnection to ``transport`` (a new StringTransport by default)."""
    transport = StringTransport() if transport is None else transport
    proto.makeConnection(transport)
    return proto


def feedInPackets(proto: Any, data: bytes, size: int) -> None:
    """Deliver ``data`` to ``proto`` in packets of ``size`` bytes (and a last, shorter one)."""
    for i in range(len(data) // size + 1):
        proto.dataReceived(data[i * size : (i + 1) * size])


def traceOnTwistedTransport(proto: Any, chunks: list[bytes]) -> list[tuple[Any, ...]]:
    """Feed ``chunks`` to a recording receiver (with a ``trace`` list) on
    Twisted's StringTransport, recording what each call returned, what was
    written and whether it closed, and resuming it whenever a callback paused it.
    """
    from twisted.internet.testing import StringTransport as TwistedStringTransport

    transport = TwistedStringTransport()
    proto.makeConnection(transport)
    for chunk in chunks:
        proto.trace.append(("returned", proto.dataReceived(chunk)))
        proto.trace.append(("state", transport.disconnecting, transport.value()))
        transport.clear()
        if proto.paused:
            proto.resumeProducing()
            proto.trace.append(("resumed", transport.value()))
            transport.clear()
    return proto.trace  # type: ignore[no-any-return]


def sameAsTwisted(build: Any, chunks: list[bytes]) -> list[tuple[Any, ...]]:
    """Trace ``build(module)()``'s receiver on ``chunks`` for torsion's and
    Twisted's ``protocols.basic``; assert the traces are equal; return ours."""
    from twisted.protocols import basic as twistedBasic

    from torsion.protocols import basic as torsionBasic

    ours = traceOnTwistedTransport(build(torsionBasic)(), chunks)
    assert ours == traceOnTwistedTransport(build(twistedBasic)(), chunks)
    return ours
