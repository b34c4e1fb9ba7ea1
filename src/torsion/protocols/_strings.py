"""String framing protocols: netstrings and length-prefixed strings.

Public through :mod:`torsion.protocols.basic`; the parsing itself is
:mod:`torsion.protocols._framing`.
"""

from __future__ import annotations

import struct
from typing import Any, cast

from torsion.internet import protocol
from torsion.protocols._framing import (
    LengthLimitExceeded,
    NetstringParseError,
    NetstringParser,
    PrefixedStringParser,
    encodeNetstring,
)
from torsion.protocols._lines import _ownState, _PauseableMixin
from torsion.python import log

__all__ = [
    "IncompleteNetstring",
    "Int8StringReceiver",
    "Int16StringReceiver",
    "Int32StringReceiver",
    "IntNStringReceiver",
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
            _ownState(self, "paused", "MAX_LENGTH")
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
        prefixLength = parser.fastPrefixLength
        while not self.paused:
            # Fast path: strings complete in the parser's contiguous head,
            # one after the other.  A callback that pauses, assigns recvd or
            # parses data itself (a nested dataReceived) moves the parser
            # (parser.moves changes), which ends the loop; the parser's own
            # nextString() handles every other case.
            buf = parser._buf
            pos = parser._pos
            moves = parser.moves
            size = len(buf)
            start = pos + prefixLength
            while start <= size:
                (length,) = unpack(buf, pos)
                pos = start + length
                if pos > size or length > self.MAX_LENGTH:
                    break
                parser._pos = pos
                self.stringReceived(buf[start:pos])
                if self.paused or parser.moves != moves:
                    break
                start = pos + prefixLength
            if self.paused:
                return
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
        size = len(string)
        try:
            # A length found in the table is below sendLimit.
            prefix = self._strings.prefixes[size]  # type: ignore[union-attr]
        except (AttributeError, IndexError):  # no parser yet, or a long string
            prefix = self._packLength(size)
        # bytes + any bytes-like object is bytes (or TypeError), so unlike
        # sendLine this needs no type check before the direct path.
        data = prefix + string
        transport = self.transport
        try:  # the direct path of LineReceiver.sendLine
            sink = transport._writeSink if transport._writeSinkOwner is transport else None
        except AttributeError:
            sink = None
        if sink is not None:
            sink.append(data)
            return
        transport.write(data)

    def _packLength(self, size: int) -> bytes:
        parser = self._parser()
        if size >= parser.sendLimit:
            raise StringTooLongError(
                f"Try to send {size} bytes whereas maximum is {parser.sendLimit}"
            )
        return parser.packLength(size)


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
