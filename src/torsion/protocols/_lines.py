"""Line framing protocols: ``LineReceiver`` and ``LineOnlyReceiver``.

Public through :mod:`torsion.protocols.basic`; the line splitting itself is
:class:`torsion.protocols._framing.LineBuffer`.
"""

from __future__ import annotations

from typing import Any, cast

from torsion.internet import protocol
from torsion.protocols._linebuffer import LineBuffer

__all__ = ["LineOnlyReceiver", "LineReceiver"]


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
        _ownState(self, "paused", "line_mode", "delimiter", "MAX_LENGTH")
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
                    # The hot loop, once per line.  Whatever consumes the
                    # buffer from a callback (clearLineBuffer, a delimiter
                    # change) exhausts ``lines.pending`` and so ends the
                    # loop; any other change of state breaks out of it and
                    # the outer loop looks at the state again.  No line is
                    # longer than lineBound (the size of the bytes split),
                    # so lines are measured only when that exceeds the limit.
                    longest = lines.lineBound
                    # (The transport is read once per batch: protocols do
                    # not swap it from lineReceived; its flag is re-read.)
                    transport = self.transport
                    for line in lines.pending:
                        if longest > self.MAX_LENGTH and len(line) > self.MAX_LENGTH:
                            return self.lineLengthExceeded(line + delimiter + lines.takeAll())
                        why = self.lineReceived(line)
                        if why or (transport and transport.disconnecting):
                            return why
                        if self.paused or not self.line_mode or self.delimiter is not delimiter:
                            break
                    else:
                        if not lines.split():
                            tail = lines.tailSize()
                            if tail and tail >= self.MAX_LENGTH + len(delimiter):
                                return self.lineLengthExceeded(lines.takeAll())
                            return None
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
        """Send ``line`` and the delimiter with a single ``write``.

        Twisted: ``LineReceiver.sendLine``.  When the transport is torsion's
        own and is collecting the writes of the current dispatch, the bytes
        join its pending writes directly (after the same type check as its
        ``write``, but without its early hand-over after 128 writes: what
        one callback sends goes out when it returns, as in Twisted);
        otherwise this calls ``transport.write``.
        """
        data = line + self.delimiter
        transport = self.transport
        try:
            sink = transport._writeSink if transport._writeSinkOwner is transport else None
        except AttributeError:  # not a torsion transport
            sink = None
        if sink is not None and type(data) is bytes:
            sink.append(data)
            return None
        return transport.write(data)

    def lineLengthExceeded(self, line: bytes) -> Any:
        """Hook: a line is longer than ``MAX_LENGTH``; by default, close.

        Twisted: ``LineReceiver.lineLengthExceeded``.  ``line`` is the rest
        of the buffer from the start of the long line: it may hold more than
        one line, or only the first part of the long one.  The buffer is
        empty when this is called.
        """
        return self.transport.loseConnection()
