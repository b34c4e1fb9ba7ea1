"""Sans-IO line framing: :class:`LineBuffer`, the buffer of ``LineReceiver``.

Part of the framing of :mod:`torsion.protocols._framing` (which re-exports
it): no I/O, no user code.  Each arriving chunk is split once with
``bytes.split``; the complete lines are handed out from an iterator, and an
unterminated tail is kept in a ``bytearray`` and searched only from where
the previous search stopped, so the cost is linear in the bytes received.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import length_hint

__all__ = ["LineBuffer"]


# An exhausted iterator: LineBuffer.pending when no complete line is buffered.
_NO_LINES: Iterator[bytes] = iter(())


class LineBuffer:
    """Cuts a byte stream into lines ending with a delimiter.

    Lines are returned without their delimiter.  Bytes after the last
    delimiter stay buffered (the *tail*) until more data completes them.

    The complete lines not handed out yet are kept as an iterator over the
    list that one ``bytes.split`` produced: a caller may loop over
    :attr:`pending` directly (``for line in buffer.pending``) and every
    method that consumes the buffer (:meth:`takeAll`, :meth:`setDelimiter`)
    exhausts that iterator, which ends such a loop.

    Args:
        delimiter: the non-empty line terminator.

    Raises:
        ValueError: for an empty delimiter.
    """

    __slots__ = ("_delimiter", "_lines", "_scan", "_tail", "lineBound", "pending")

    def __init__(self, delimiter: bytes = b"\r\n") -> None:
        if not delimiter:
            raise ValueError("the line delimiter must not be empty")
        self._delimiter = delimiter
        #: Complete lines not handed out yet.
        self.pending: Iterator[bytes] = _NO_LINES
        # The list that pending iterates over (what is left of it is known
        # from pending's length hint).
        self._lines: list[bytes] = []
        #: No line of :attr:`pending` is longer than this.
        self.lineBound = 0
        # Bytes after the last delimiter found; no delimiter starts before
        # offset self._scan in it.
        self._tail: bytes | bytearray = b""
        self._scan = 0

    @property
    def delimiter(self) -> bytes:
        """The current delimiter."""
        return self._delimiter

    def setDelimiter(self, delimiter: bytes) -> None:
        """Use ``delimiter`` for the lines not handed out yet.

        Buffered complete lines are joined back with the old delimiter and
        split again with the new one, so the result is as if the whole
        buffer had always been split with the new delimiter from here on.

        Raises:
            ValueError: for an empty delimiter.
        """
        if delimiter == self._delimiter:
            self._delimiter = delimiter
            return
        if not delimiter:
            raise ValueError("the line delimiter must not be empty")
        rest = self.takeAll()
        self._delimiter = delimiter
        self._tail = rest

    def append(self, data: bytes) -> None:
        """Buffer ``data`` without parsing it yet."""
        if not data:
            return
        tail = self._tail
        if not tail:
            self._tail = data
        elif type(tail) is bytearray:
            tail += data
        else:
            grown = bytearray(tail)
            grown += data
            self._tail = grown

    def nextLine(self) -> bytes | None:
        """The next complete line, or None when no complete line is buffered."""
        line = next(self.pending, None)
        if line is None and self.split():
            line = next(self.pending)
        return line

    def split(self) -> bool:
        """Split the tail into :attr:`pending` lines; False if it has no delimiter.

        Call it only when :attr:`pending` is exhausted.
        """
        tail = self._tail
        delimiter = self._delimiter
        if tail.find(delimiter, self._scan) < 0:
            self._scan = max(0, len(tail) - len(delimiter) + 1)
            self._lines = []
            return False
        self.lineBound = len(tail)
        lines = bytes(tail).split(delimiter)
        rest = lines.pop()
        self._tail = rest
        self._scan = max(0, len(rest) - len(delimiter) + 1)
        self._lines = lines
        self.pending = iter(lines)
        return True

    def tailSize(self) -> int:
        """Bytes buffered after the last delimiter (the unterminated line)."""
        return len(self._tail)

    def bufferedSize(self) -> int:
        """Every byte buffered, delimiters of complete lines included."""
        remaining = length_hint(self.pending)
        pending = self._lines[len(self._lines) - remaining :] if remaining else []
        return sum(map(len, pending)) + len(pending) * len(self._delimiter) + len(self._tail)

    def takeAll(self) -> bytes:
        """Remove and return everything buffered, delimiters included."""
        tail = bytes(self._tail)
        rest = list(self.pending)
        if rest:
            rest.append(tail)
            tail = self._delimiter.join(rest)
            self.pending = _NO_LINES
            self._lines = []
        self._tail = b""
        self._scan = 0
        return tail

    def feed(self, data: bytes) -> list[bytes]:
        """Buffer ``data`` and remove and return every complete line."""
        self.append(data)
        out = list(self.pending)
        if self.split():
            out.extend(self.pending)
        self.pending = _NO_LINES
        return out
