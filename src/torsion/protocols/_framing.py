"""Sans-IO framing for the basic protocols: lines, netstrings, length prefixes.

The parsers here own a receive buffer and cut a byte stream into frames.  They
do no I/O, read no clock and call no user code: the protocol classes of
:mod:`torsion.protocols.basic` drive them and decide, between two frames,
whether to go on (a callback may pause, close, switch to raw mode or feed
more data re-entrantly).  So every parser has an incremental interface
(``append(data)`` then ``next...()`` until it returns None) and a convenience
``feed(data) -> list of frames`` for code that just wants the frames.

Costs are linear in the bytes received, however the stream is split:

* :class:`LineBuffer` splits each arriving chunk once with ``bytes.split``
  and hands the lines out one by one; an unterminated tail is kept in a
  ``bytearray`` and searched only from where the previous search stopped.
* :class:`NetstringParser` and :class:`PrefixedStringParser` keep one
  contiguous ``bytes`` head and a ``bytearray`` of later data, and join the
  two only once a whole frame (or length field) is available.

Length limits are policy, and Twisted's classes apply them differently, so
the line parser reports sizes and the protocol decides; the netstring and
length-prefix parsers take the limit as an argument of ``next``.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterator
from operator import length_hint

__all__ = [
    "LengthLimitExceeded",
    "LineBuffer",
    "NetstringParseError",
    "NetstringParser",
    "PrefixedStringParser",
    "encodeNetstring",
]


class NetstringParseError(ValueError):
    """The received data is not a valid netstring.

    Twisted: ``twisted.protocols.basic.NetstringParseError``.
    """


class LengthLimitExceeded(Exception):
    """A length prefix announced a string longer than the allowed maximum.

    Attributes:
        length: the announced length.
    """

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.length = length


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


class _ByteQueue:
    """Unconsumed bytes: a contiguous head ``_buf[_pos:]`` plus later data.

    Later data is collected in a ``bytearray`` and joined to the head only
    when a parser needs more contiguous bytes than the head holds and enough
    have arrived, so every byte is copied a bounded number of times.
    """

    __slots__ = ("_buf", "_more", "_pos")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._more = bytearray()

    def append(self, data: bytes) -> None:
        """Buffer ``data``."""
        if self._more:
            self._more += data
        elif self._pos >= len(self._buf):
            self._buf = data
            self._pos = 0
        elif data:
            self._more += data

    def bufferedSize(self) -> int:
        """Bytes buffered and not consumed yet."""
        return len(self._buf) - self._pos + len(self._more)

    def peek(self) -> bytes:
        """Every unconsumed byte (a copy; nothing is consumed)."""
        if self._more:
            return b"".join((memoryview(self._buf)[self._pos :], self._more))
        return self._buf[self._pos :]

    def replace(self, data: bytes) -> None:
        """Throw away the unconsumed bytes and buffer ``data`` instead."""
        self._buf = bytes(data)
        self._pos = 0
        self._more = bytearray()

    def _contiguous(self, size: int) -> bool:
        """Make ``size`` bytes contiguous at the head; False if fewer are buffered."""
        head = len(self._buf) - self._pos
        if head >= size:
            return True
        more = self._more
        if head + len(more) < size:
            return False
        self._buf = b"".join((memoryview(self._buf)[self._pos :], more))
        self._pos = 0
        self._more = bytearray()
        return True


#: Prefixes of lengths below this are packed once per format (see
#: PrefixedStringParser.prefixes).
PACKED_PREFIXES = 1024
_packedPrefixes: dict[str, list[bytes]] = {}


def _packPrefixes(prefix: struct.Struct, count: int) -> list[bytes]:
    """The packed lengths 0, 1, ... up to ``count`` or the first that does not fit."""
    packed = []
    for n in range(count):
        try:
            packed.append(prefix.pack(n))
        except struct.error:  # a signed format
            break
    return packed


class PrefixedStringParser(_ByteQueue):
    """Cuts a stream of length-prefixed strings (Int8/16/32 framing).

    Args:
        structFormat: the :mod:`struct` format of the length prefix, e.g.
            ``"!I"`` for a 32-bit big-endian length.
    """

    __slots__ = (
        "_prefixLength",
        "_unpack",
        "fastPrefixLength",
        "packLength",
        "prefixes",
        "sendLimit",
    )

    def __init__(self, structFormat: str) -> None:
        super().__init__()
        prefix = struct.Struct(structFormat)
        self._unpack = prefix.unpack_from
        self._prefixLength = prefix.size
        try:
            prefix.pack(-1)
        except struct.error:  # unsigned: a prefix cannot announce a negative length
            #: The prefix length, or more bytes than any buffer holds for a
            #: signed format: callers that parse the head themselves
            #: (IntNStringReceiver) then leave every prefix to nextString().
            self.fastPrefixLength = prefix.size
        else:
            self.fastPrefixLength = sys.maxsize
        #: Packs a length into a prefix.
        self.packLength = prefix.pack
        #: Strings must be shorter than this to be sent (2 ** prefix bits).
        self.sendLimit = limit = 2 ** (8 * prefix.size)
        #: ``prefixes[n] == packLength(n)`` for the lengths that fit, up to
        #: PACKED_PREFIXES (shared by the parsers of one format).
        self.prefixes = _packedPrefixes.get(structFormat) or _packedPrefixes.setdefault(
            structFormat, _packPrefixes(prefix, min(limit, PACKED_PREFIXES))
        )

    def nextString(self, maxLength: int) -> bytes | None:
        """The next complete string, or None when it has not fully arrived.

        Raises:
            LengthLimitExceeded: when the next prefix announces more than
                ``maxLength`` bytes (or a negative length).  The prefix is
                not consumed, so asking again raises again.
        """
        buf = self._buf
        pos = self._pos
        prefixLength = self._prefixLength
        if len(buf) - pos < prefixLength:
            if not self._contiguous(prefixLength):
                return None
            buf = self._buf
            pos = 0
        length = self._unpack(buf, pos)[0]
        if length > maxLength or length < 0:
            raise LengthLimitExceeded(length)
        start = pos + prefixLength
        end = start + length
        if len(buf) < end:
            if not self._contiguous(prefixLength + length):
                return None
            buf = self._buf
            start = prefixLength
            end = start + length
        self._pos = end
        return buf[start:end]

    def discardAfterPrefix(self, maxLength: int) -> None:
        """Keep only the next prefix if it exceeds ``maxLength``; drop the rest.

        Used after a length-limit violation so that data which keeps
        arriving is not buffered without bound.
        """
        if not self._contiguous(self._prefixLength):
            return
        length = self._unpack(self._buf, self._pos)[0]
        if length > maxLength or length < 0:
            self.replace(self._buf[self._pos : self._pos + self._prefixLength])

    def feed(self, data: bytes, maxLength: int) -> list[bytes]:
        """Buffer ``data`` and return every complete string.

        Raises:
            LengthLimitExceeded: as :meth:`nextString` (strings completed
                before the bad prefix are lost to the caller).
        """
        self.append(data)
        out = []
        while (string := self.nextString(maxLength)) is not None:
            out.append(string)
        return out


_DIGITS = frozenset(b"0123456789")


class NetstringParser(_ByteQueue):
    """Cuts a stream of netstrings (``b"5:hello,"``).

    Strict: the length has no sign, no spaces and no leading zero, must not
    exceed the limit (checked while its digits arrive), and the payload must
    be followed by a comma.  After an error the parser stays broken: it
    drops what it receives, and :meth:`nextString` raises again whenever it
    has data (as Twisted's receiver re-reports its unparsable buffer).
    """

    __slots__ = ("_broken", "_brokenPending", "_length")

    def __init__(self) -> None:
        super().__init__()
        self._length = -1  # the payload length once "N:" is parsed
        self._broken: NetstringParseError | None = None
        self._brokenPending = False

    @property
    def broken(self) -> bool:
        """True once invalid data was seen."""
        return self._broken is not None

    def append(self, data: bytes) -> None:
        """Buffer ``data`` (dropped, but remembered, once broken)."""
        if self._broken is not None:
            if data:
                self._brokenPending = True
            return
        super().append(data)

    def _fail(self, message: str, leftover: bool) -> NetstringParseError:
        error = NetstringParseError(message)
        self._broken = error
        self._brokenPending = leftover
        self.replace(b"")
        return error

    def nextString(self, maxLength: int) -> bytes | None:
        """The next complete netstring's payload, or None if incomplete.

        Raises:
            NetstringParseError: the data is not a valid netstring (the
                length is malformed or above ``maxLength``, or the comma is
                missing).
        """
        if self._broken is not None:
            if self._brokenPending:
                raise NetstringParseError(str(self._broken))
            return None
        length = self._length
        if length < 0:
            length = self._parseLength(maxLength)
            if length < 0:
                return None
        need = length + 1
        buf = self._buf
        pos = self._pos
        if len(buf) - pos < need:
            if not self._contiguous(need):
                return None
            buf = self._buf
            pos = 0
        end = pos + length
        if buf[end] != 0x2C:  # b","
            raise self._fail(
                "The received netstring is not terminated by a comma.",
                leftover=end + 1 < len(buf) or bool(self._more),
            )
        self._pos = end + 1
        self._length = -1
        return buf[pos:end]

    def _parseLength(self, maxLength: int) -> int:
        """Consume ``N:`` and return N, or return -1 if it is incomplete."""
        limit = len(str(maxLength)) if maxLength >= 0 else 0
        # The spec is at most `limit` digits and a colon.
        self._contiguous(min(self.bufferedSize(), limit + 1))
        buf = self._buf
        pos = self._pos
        end = min(len(buf), pos + limit + 1)
        colon = buf.find(b":", pos, end)
        spec = buf[pos:end] if colon < 0 else buf[pos:colon]
        if not _DIGITS.issuperset(spec) or (colon >= 0 and not spec):
            raise self._fail(
                "The received netstring does not start with a length specification.",
                leftover=True,
            )
        if len(spec) > 1 and spec[0] == 0x30:  # b"0"
            raise self._fail(
                "The received netstring does not start with a length specification.",
                leftover=True,
            )
        if spec and (len(spec) > limit or int(spec) > maxLength):
            raise self._fail(
                f"The received netstring is longer than the maximum {maxLength} "
                "specified by self.MAX_LENGTH",
                leftover=True,
            )
        if colon < 0:
            return -1
        self._pos = colon + 1
        self._length = length = int(spec)
        return length

    def feed(self, data: bytes, maxLength: int) -> list[bytes]:
        """Buffer ``data`` and return every complete payload.

        Raises:
            NetstringParseError: as :meth:`nextString`.
        """
        self.append(data)
        out = []
        while (string := self.nextString(maxLength)) is not None:
            out.append(string)
        return out


def encodeNetstring(data: bytes) -> bytes:
    """``data`` as a netstring: ``b"%d:%s,"``."""
    return b"%d:%s," % (len(data), data)
