"""Basic framing protocols: lines, netstrings and length-prefixed strings.

Twisted: ``twisted.protocols.basic``.  The classes keep Twisted's names,
attributes (``delimiter``, ``MAX_LENGTH``, ``line_mode``, ``paused``,
``brokenPeer``, ``structFormat``, ``prefixLength``) and callback order; the
parsing itself is the sans-IO code of :mod:`torsion.protocols._framing`,
which keeps the cost linear in the bytes received however they are split.
Where torsion differs (bounded buffers after a length error), see
``docs/compat.md``.
"""

from __future__ import annotations

import struct
from typing import IO, Any, cast

from torsion.internet import protocol
from torsion.internet._defer import Deferred
from torsion.protocols._framing import (
    LengthLimitExceeded,
    LineBuffer,
    NetstringParseError,
    NetstringParser,
    PrefixedStringParser,
    encodeNetstring,
)
from torsion.python import log

__all__ = [
    "FileSender",
    "IncompleteNetstring",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
    "IntNStringReceiver",
    "LineOnlyReceiver",
    "LineReceiver",
    "NetstringParseError",
    "NetstringReceiver",
    "StatefulStringProtocol",
    "StringTooLongError",
]


class IncompleteNetstring(Exception):
    """Not enough data to complete a netstring.

    Twisted: ``twisted.protocols.basic.IncompleteNetstring`` (kept for
    imports; torsion's parser reports an incomplete netstring by returning
    None, not by raising).
    """


class StringTooLongError(AssertionError):
    """A string is too long for the length prefix of the protocol sending it.

    Twisted: ``twisted.protocols.basic.StringTooLongError``.
    """


class NetstringReceiver(protocol.Protocol):
    """Sends and receives netstrings (``b"5:hello,"``).

    Twisted: ``twisted.protocols.basic.NetstringReceiver``.  Invalid input
    (a malformed length, a length above ``MAX_LENGTH``, a missing comma)
    closes the connection with ``loseConnection()`` and sets ``brokenPeer``.

    Attributes:
        MAX_LENGTH: the longest payload accepted.
        brokenPeer: 1 once the peer sent invalid data.
    """

    MAX_LENGTH = 99999
    brokenPeer = 0
    _netstrings: NetstringParser | None = None

    def makeConnection(self, transport: Any) -> None:
        """Connect and start with an empty parse buffer.

        Twisted: ``NetstringReceiver.makeConnection``.
        """
        protocol.Protocol.makeConnection(self, transport)
        self._netstrings = NetstringParser()
        self.brokenPeer = 0

    def sendString(self, string: bytes) -> None:
        """Send ``string`` as one netstring. Twisted: ``NetstringReceiver.sendString``."""
        self.transport.write(encodeNetstring(string))

    def dataReceived(self, data: bytes) -> None:
        """Parse netstrings and call :meth:`stringReceived` for each one.

        Twisted: ``NetstringReceiver.dataReceived``.  Parsing goes on after
        ``stringReceived`` closed the connection, as in Twisted.
        """
        parser = self._netstrings
        if parser is None:
            parser = self._netstrings = NetstringParser()
        parser.append(data)
        while True:
            try:
                string = parser.nextString(self.MAX_LENGTH)
            except NetstringParseError:
                self._handleParseError()
                return
            if string is None:
                return
            self.stringReceived(string)

    def stringReceived(self, string: bytes) -> None:
        """Hook: a complete netstring arrived (without its framing).

        Twisted: ``NetstringReceiver.stringReceived``.

        Raises:
            NotImplementedError: unless overridden.
        """
        raise NotImplementedError()

    def _handleParseError(self) -> None:
        """Close the connection and mark the peer as broken."""
        self.transport.loseConnection()
        self.brokenPeer = 1


def _ownState(obj: object, *names: str) -> None:
    """Copy per-connection state flags from the class into the instance.

    The parsing loops read them once per line or string, and on CPython
    3.11 an instance attribute is much cheaper to read than a class one.
    Names that a subclass turned into properties are left alone.
    """
    for name in names:
        # (Not obj.__dict__: reading it makes later attribute reads slower.)
        if not hasattr(getattr(type(obj), name, None), "__get__"):
            setattr(obj, name, getattr(obj, name))


class _PauseableMixin:
    """Pausing a receiver also pauses (and resuming resumes) its transport.

    Twisted: ``twisted.protocols.basic._PauseableMixin``.  Resuming parses
    what was buffered while paused.
    """

    paused = False

    def pauseProducing(self) -> None:
        """Stop delivering data and stop reading from the transport."""
        self.paused = True
        cast(Any, self).transport.pauseProducing()

    def resumeProducing(self) -> None:
        """Resume reading and deliver what was buffered."""
        self.paused = False
        this = cast(Any, self)
        this.transport.resumeProducing()
        this.dataReceived(b"")

    def stopProducing(self) -> None:
        """Stop delivering data and stop the transport."""
        self.paused = True
        cast(Any, self).transport.stopProducing()


class LineOnlyReceiver(protocol.Protocol):
    """Receives lines only (no raw mode); a little faster than LineReceiver.

    Twisted: ``twisted.protocols.basic.LineOnlyReceiver``.  Lines after the
    one during which the transport started disconnecting are dropped.  A
    complete line longer than ``MAX_LENGTH``, or an unterminated one longer
    than ``MAX_LENGTH``, goes to :meth:`lineLengthExceeded`; unlike Twisted,
    the unterminated bytes are then dropped, not kept and reported again.

    Attributes:
        delimiter: the line terminator (``b"\\r\\n"``).
        MAX_LENGTH: the longest line accepted (16384).
    """

    delimiter = b"\r\n"
    MAX_LENGTH = 16384
    _lineBuffer: LineBuffer | None = None

    def dataReceived(self, data: bytes) -> Any:
        """Split ``data`` into lines and call :meth:`lineReceived` for each.

        Twisted: ``LineOnlyReceiver.dataReceived``.
        """
        lines = self._lineBuffer
        if lines is None:
            lines = self._lineBuffer = LineBuffer(self.delimiter)
        elif self.delimiter is not lines._delimiter:
            lines.setDelimiter(self.delimiter)
        for line in lines.feed(data):
            if self.transport.disconnecting:
                return None
            if len(line) > self.MAX_LENGTH:
                return self.lineLengthExceeded(line)
            self.lineReceived(line)
        if lines.tailSize() > self.MAX_LENGTH:
            return self.lineLengthExceeded(lines.takeAll())
        return None

    def lineReceived(self, line: bytes) -> Any:
        """Hook: a line arrived, without its delimiter.

        Raises:
            NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def sendLine(self, line: bytes) -> Any:
        """Send ``line`` and the delimiter with one ``writeSequence`` call."""
        return self.transport.writeSequence((line, self.delimiter))

    def lineLengthExceeded(self, line: bytes) -> Any:
        """Hook: a line is too long; by default, close the connection."""
        return self.transport.loseConnection()


class LineReceiver(protocol.Protocol, _PauseableMixin):
    """Receives lines, or raw data, depending on its mode.

    Twisted: ``twisted.protocols.basic.LineReceiver``.  In line mode each
    line goes to :meth:`lineReceived`; in raw mode each chunk goes to
    :meth:`rawDataReceived`.  Parsing of the data at hand stops when the
    protocol is paused, when ``lineReceived`` returns a true value (which
    ``dataReceived`` returns) or once ``transport.disconnecting`` is set.
    ``dataReceived`` called from inside a callback only buffers the data,
    which the outer call then parses.

    Attributes:
        delimiter: the line terminator (``b"\\r\\n"``).
        MAX_LENGTH: the longest line accepted (16384).
        line_mode: 1 in line mode, 0 in raw mode.
        paused: True while paused by :meth:`pauseProducing`.
    """

    line_mode = 1
    delimiter = b"\r\n"
    MAX_LENGTH = 16384
    _busyReceiving = False
    _lineBuffer: LineBuffer | None = None

    def _startBuffering(self) -> LineBuffer:
        lines = self._lineBuffer = LineBuffer(self.delimiter)
        _ownState(self, "paused", "line_mode")
        return lines

    def clearLineBuffer(self) -> bytes:
        """Remove and return everything buffered. Twisted: ``clearLineBuffer``."""
        lines = self._lineBuffer
        return b"" if lines is None else lines.takeAll()

    def dataReceived(self, data: bytes) -> Any:
        """Parse ``data`` into lines or raw chunks and deliver them.

        Twisted: ``LineReceiver.dataReceived``.

        Returns:
            The true value returned by ``lineReceived`` or
            ``rawDataReceived`` that stopped parsing, or what
            ``lineLengthExceeded`` returned, else None.
        """
        lines = self._lineBuffer
        if lines is None:
            lines = self._startBuffering()
        if self._busyReceiving:
            lines.append(data)
            return None
        self._busyReceiving = True
        try:
            lines.append(data)
            while not self.paused:
                if self.line_mode:
                    delimiter = self.delimiter
                    if delimiter is not lines._delimiter:
                        lines.setDelimiter(delimiter)
                    # LineBuffer.nextLine(), inlined: this loop runs per line.
                    index = lines._next
                    if index < len(lines._lines):
                        line: bytes | None = lines._lines[index]
                        lines._next = index + 1
                    else:
                        line = lines._split()
                    if line is None:
                        if lines.tailSize() >= self.MAX_LENGTH + len(delimiter):
                            return self.lineLengthExceeded(lines.takeAll())
                        return None
                    if len(line) > self.MAX_LENGTH:
                        return self.lineLengthExceeded(line + delimiter + lines.takeAll())
                    why = self.lineReceived(line)
                    if why or (self.transport and self.transport.disconnecting):
                        return why
                else:
                    data = lines.takeAll()
                    if not data:
                        return None
                    why = self.rawDataReceived(data)
                    if why:
                        return why
            return None
        finally:
            self._busyReceiving = False

    def setLineMode(self, extra: bytes = b"") -> Any:
        """Switch to line mode; ``extra`` is parsed as if just received.

        Twisted: ``LineReceiver.setLineMode``.  Pass ``extra`` only from
        ``rawDataReceived`` (the rest of a raw chunk that was not consumed).
        """
        self.line_mode = 1
        if extra:
            return self.dataReceived(extra)
        return None

    def setRawMode(self) -> None:
        """Switch to raw mode. Twisted: ``LineReceiver.setRawMode``."""
        self.line_mode = 0

    def rawDataReceived(self, data: bytes) -> Any:
        """Hook: raw data arrived (in raw mode).

        Raises:
            NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def lineReceived(self, line: bytes) -> Any:
        """Hook: a line arrived, without its delimiter.

        Raises:
            NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def sendLine(self, line: bytes) -> Any:
        """Send ``line`` and the delimiter with a single ``write``."""
        return self.transport.write(line + self.delimiter)

    def lineLengthExceeded(self, line: bytes) -> Any:
        """Hook: a line is longer than ``MAX_LENGTH``; by default, close.

        Twisted: ``LineReceiver.lineLengthExceeded``.  ``line`` is the rest
        of the buffer from the start of the long line: it may hold more than
        one line, or only the first part of the long one.  The buffer is
        empty when this is called.
        """
        return self.transport.loseConnection()


class IntNStringReceiver(protocol.Protocol, _PauseableMixin):
    """Receives strings framed by a binary length prefix.

    Twisted: ``twisted.protocols.basic.IntNStringReceiver``.  Subclasses set
    ``structFormat`` (a :mod:`struct` format) and ``prefixLength``.  A prefix
    announcing more than ``MAX_LENGTH`` bytes calls
    :meth:`lengthLimitExceeded` (by default, close); the data after it is
    then dropped (Twisted keeps buffering it).

    Attributes:
        MAX_LENGTH: the longest string accepted (99999).
        recvd: the bytes received and not parsed yet; assigning it from
            ``stringReceived`` replaces them.
    """

    MAX_LENGTH = 99999
    structFormat: str
    prefixLength: int
    _strings: PrefixedStringParser | None = None

    def _parser(self) -> PrefixedStringParser:
        parser = self._strings
        if parser is None:
            parser = self._strings = PrefixedStringParser(self.structFormat)
            _ownState(self, "paused")
        return parser

    @property
    def recvd(self) -> bytes:
        """The bytes received and not yet parsed. Twisted: ``recvd``."""
        return self._parser().peek()

    @recvd.setter
    def recvd(self, data: bytes) -> None:
        self._parser().replace(data)

    def stringReceived(self, string: bytes) -> None:
        """Hook: a complete string arrived (without its prefix).

        Raises:
            NotImplementedError: unless overridden.
        """
        raise NotImplementedError

    def lengthLimitExceeded(self, length: int) -> None:
        """Hook: a prefix announced ``length`` > ``MAX_LENGTH``; by default, close."""
        self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        """Parse prefixed strings and call :meth:`stringReceived` for each.

        Twisted: ``IntNStringReceiver.dataReceived``.  Stops while paused.
        """
        parser = self._strings
        if parser is None:
            parser = self._parser()
        parser.append(data)
        unpack = parser._unpack
        prefixLength = parser._prefixLength
        while not self.paused:
            # Fast path: a whole string in the parser's contiguous head (the
            # parser's own nextString() handles every other case).
            buf = parser._buf
            pos = parser._pos
            start = pos + prefixLength
            if len(buf) >= start:
                length = unpack(buf, pos)[0]
                end = start + length
                if end <= len(buf) and 0 <= length <= self.MAX_LENGTH:
                    parser._pos = end
                    self.stringReceived(buf[start:end])
                    continue
            try:
                string = parser.nextString(self.MAX_LENGTH)
            except LengthLimitExceeded as e:
                self.lengthLimitExceeded(e.length)
                parser.discardAfterPrefix(self.MAX_LENGTH)
                return
            if string is None:
                return
            self.stringReceived(string)

    def sendString(self, string: bytes) -> None:
        """Send ``string`` with its length prefix, in one ``write``.

        Twisted: ``IntNStringReceiver.sendString``.

        Raises:
            StringTooLongError: if the length does not fit the prefix.
        """
        parser = self._strings
        if parser is None:
            parser = self._parser()
        if len(string) >= parser.sendLimit:
            raise StringTooLongError(
                f"Try to send {len(string)} bytes whereas maximum is {parser.sendLimit}"
            )
        self.transport.write(parser.packLength(len(string)) + string)


class Int32StringReceiver(IntNStringReceiver):
    """Strings prefixed by a 32-bit big-endian length. Twisted: ``Int32StringReceiver``."""

    structFormat = "!I"
    prefixLength = struct.calcsize(structFormat)


class Int16StringReceiver(IntNStringReceiver):
    """Strings prefixed by a 16-bit big-endian length. Twisted: ``Int16StringReceiver``."""

    structFormat = "!H"
    prefixLength = struct.calcsize(structFormat)


class Int8StringReceiver(IntNStringReceiver):
    """Strings prefixed by an 8-bit length. Twisted: ``Int8StringReceiver``."""

    structFormat = "!B"
    prefixLength = struct.calcsize(structFormat)


class StatefulStringProtocol:
    """Routes each received string to ``proto_<state>``.

    Twisted: ``twisted.protocols.basic.StatefulStringProtocol``.  Mix it
    into a string receiver; each handler returns the next state, and the
    state ``"done"`` closes the connection.
    """

    state = "init"

    def stringReceived(self, string: bytes) -> None:
        """Call the handler of the current state and move to the state it returns."""
        handler = getattr(self, "proto_" + self.state, None)
        if handler is None:
            log.msg("callback", self.state, "not found")
            return
        self.state = handler(string)
        if self.state == "done":
            cast(Any, self).transport.loseConnection()


class FileSender:
    """A pull producer that copies a file to a consumer.

    Twisted: ``twisted.protocols.basic.FileSender``.  The Deferred of
    :meth:`beginFileTransfer` fires with the last byte sent (``b""`` for an
    empty file; Twisted gives ``""``).

    Attributes:
        CHUNK_SIZE: bytes read per ``resumeProducing`` (16 KiB).
    """

    CHUNK_SIZE = 2**14
    lastSent = b""
    deferred: Deferred[bytes] | None = None
    file: IO[bytes] | None = None
    consumer: Any = None
    transform: Any = None

    def beginFileTransfer(
        self, file: IO[bytes], consumer: Any, transform: Any = None
    ) -> Deferred[bytes]:
        """Register with ``consumer`` and send ``file`` to it.

        Args:
            file: a file-like object opened for binary reading.
            consumer: an ``IConsumer`` (a transport, usually).
            transform: an optional function applied to every chunk.

        Returns:
            A Deferred that fires with the last byte written once the file
            is sent, or fails if the consumer stops the transfer.
        """
        self.file = file
        self.consumer = consumer
        self.transform = transform
        self.deferred = deferred = Deferred[bytes]()
        self.consumer.registerProducer(self, False)
        return deferred

    def resumeProducing(self) -> None:
        """Send the next chunk; at the end of the file, unregister and fire."""
        chunk = b""
        if self.file:
            chunk = self.file.read(self.CHUNK_SIZE)
        if not chunk:
            self.file = None
            self.consumer.unregisterProducer()
            if self.deferred:
                deferred, self.deferred = self.deferred, None
                deferred.callback(self.lastSent)
            return
        if self.transform:
            chunk = self.transform(chunk)
        self.consumer.write(chunk)
        self.lastSent = chunk[-1:]

    def pauseProducing(self) -> None:
        """Nothing to do: a pull producer only writes when asked."""

    def stopProducing(self) -> None:
        """Abort: the Deferred fails with an ``Exception``."""
        if self.deferred:
            deferred, self.deferred = self.deferred, None
            deferred.errback(Exception("Consumer asked us to stop producing"))
