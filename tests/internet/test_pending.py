"""PendingTransport: what a connection asks before its transport exists is
replayed in order onto the real one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.internet._pending import PendingTransport


class Recording:
    def __init__(self, canEOF: bool = True) -> None:
        self.calls: list[Any] = []
        self.canEOF = canEOF

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def close(self) -> None:
        self.calls.append("close")

    def write_eof(self) -> None:
        self.calls.append("eof")

    def can_write_eof(self) -> bool:
        return self.canEOF

    def pause_reading(self) -> None:
        self.calls.append("pause")

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("1.2.3.4", 5)}.get(name, default)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=20), max_size=10), st.booleans())
def test_writes_replayed_in_order(chunks: list[bytes], close: bool) -> None:
    """All writes arrive as one write, in order, then the close."""
    pending = PendingTransport()
    for chunk in chunks:
        pending.write(chunk)
    if close:
        pending.close()
        pending.write(b"after close is dropped")
    real = Recording()
    pending.attach(real)
    expected: list[Any] = [("write", b"".join(chunks))] if chunks else []
    assert real.calls == expected + (["close"] if close else [])


def test_pause_eof_and_info() -> None:
    """Pause is applied first, EOF last; sizes and extra info come from the old transport."""
    old = Recording()
    pending = PendingTransport(old)
    pending.write(b"abc")
    assert pending.get_write_buffer_size() == 3 + 7
    assert pending.get_extra_info("peername") == ("1.2.3.4", 5)
    pending.pause_reading()
    assert not pending.is_reading()
    pending.write_eof()
    pending.write(b"dropped")
    real = Recording()
    pending.attach(real)
    assert real.calls == ["pause", ("write", b"abc"), "eof"]
    other = PendingTransport()
    other.write_eof()
    noEOF = Recording(canEOF=False)
    other.attach(noEOF)
    assert noEOF.calls == []


def test_abort_calls_the_aborter_once_and_drops_writes() -> None:
    """abort() runs the aborter once; nothing written is replayed."""
    aborted: list[int] = []
    pending = PendingTransport(None, lambda: aborted.append(1))
    pending.write(b"x")
    pending.abort()
    pending.abort()
    assert aborted == [1]
    assert pending.is_closing()
    pending.write(b"y")
    real = Recording()
    pending.attach(real)
    assert real.calls == []
    assert pending.get_extra_info("anything", 5) == 5
