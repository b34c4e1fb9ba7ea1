"""Sans-IO framing for the basic protocols: lines, netstrings, length prefixes.

The parsers here own a receive buffer and cut a byte stream into frames.  They
do no I/O, read no clock and call no user code: the protocol classes of
:mod:`torsion.protocols.basic` drive them and decide, between two frames,
whether to go on (a callback may pause, close, switch to raw mode or feed
more data re-entrantly).  So every parser has an incremental interface
(``append(data)`` then ``next...()`` until it returns None) and a convenience
``feed(data) -> list of frames`` for code that just wants the frames.

Costs are linear in the bytes received, however the stream is split:

* :class:`LineBuffer` (defined in :mod:`torsion.protocols._linebuffer`)
  splits each arriving chunk once with ``bytes.split`` and hands the lines
  out one by one; an unterminated tail is kept in a ``bytearray`` and
  searched only from where the previous search stopped.
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

from torsion.protocols._linebuffer import LineBuffer

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


class _ByteQueue:
    """Unconsumed bytes: a contiguous head ``_buf[_pos:]`` plus later data.

    Later data is collected in a ``bytearray`` and joined to the head only
    when a parser needs more contiguous bytes than the head holds and enough
    have arrived, so every byte is copied a bounded number of times.

    Attributes:
        moves: changes whenever the methods change the head or the offset
            into it, so that a caller that consumes the head itself (by
            setting ``_pos``) can tell, after running user code, whether
            the buffer is still where it left it.
    """

    __slots__ = ("_buf", "_more", "_pos", "moves")

    def __init__(self) -> None:
        self._buf = b""
        self._pos = 0
        self._more = bytearray()
        self.moves = 0

    def append(self, data: bytes) -> None:
        """Buffer ``data``."""
        self.moves += 1
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
        self.moves += 1
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
        self.moves += 1
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
        self.moves += 1
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
        self.moves += 1
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
        self.moves += 1
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
