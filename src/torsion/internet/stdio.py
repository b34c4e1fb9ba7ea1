"""Standard input and output as a transport.

Twisted: ``twisted.internet.stdio``.  ``StandardIO(protocol)`` connects
``protocol`` to this process's stdin (read) and stdout (write).  Each is a
:class:`torsion.internet._pipes.PipeConnection` over the loop's pipe
transports (or a plain file reader/writer when stdin/stdout is a regular
file or /dev/null), so writes are coalesced and producers work as on a
socket.  Both descriptors are closed when the connection ends.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import error
from torsion.internet._pipes import openPipe
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["PipeAddress", "StandardIO"]


class PipeAddress:
    """The address of either end of a pipe. Twisted: ``address._ProcessAddress``-like."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PipeAddress)

    def __hash__(self) -> int:
        return hash(PipeAddress)

    def __repr__(self) -> str:
        return "PipeAddress()"


class _Half:
    """The protocol of one of the two pipes, reporting to the StandardIO."""

    transport: Any = None

    def __init__(self, owner: StandardIO, reading: bool) -> None:
        self.owner = owner
        self.reading = reading

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.owner.protocol.dataReceived(data)

    def connectionLost(self, reason: Failure) -> None:
        if self.reading:
            self.owner._readerLost(reason)
        else:
            self.owner._writerLost(reason)


class StandardIO:
    """Connect a stream protocol to stdin and stdout.

    Twisted: ``twisted.internet.stdio.StandardIO``.

    When stdin ends, a half-closeable protocol (one with
    ``readConnectionLost``) is told so and may keep writing; any other
    protocol's connection is closed once what it wrote has been sent.
    ``connectionLost`` comes when both are closed.

    Args:
        proto: the protocol.
        stdin: the descriptor to read.
        stdout: the descriptor to write.
        reactor: the reactor (default: the global one).
    """

    disconnecting = False
    disconnected = False

    def __init__(self, proto: Any, stdin: int = 0, stdout: int = 1, reactor: Any = None) -> None:
        if reactor is None:
            from torsion.internet import reactor as globalReactor

            reactor = globalReactor
        self.reactor = reactor
        self.protocol = proto
        self._reason: Failure | None = None
        self._writeHalfClosed = False
        self._writer: Any = openPipe(reactor, stdout, _Half(self, False), reading=False)
        self._reader: Any = openPipe(reactor, stdin, _Half(self, True), reading=True)
        self.connected = 1
        reactor._dispatch(proto.makeConnection, self)

    # -- ITransport ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Write to stdout. Twisted: ``StandardIO.write``."""
        if self._writer is not None:
            self._writer.write(data)

    def writeSequence(self, data: Any) -> None:
        if self._writer is not None:
            self._writer.writeSequence(data)

    def loseConnection(self) -> None:
        """Stop reading and close stdout once written data is sent."""
        if self.disconnecting:
            return
        self.disconnecting = True
        if self._reader is not None:
            self._reader.loseConnection()
        if self._writer is not None:
            self._writer.loseConnection()

    def loseWriteConnection(self) -> None:
        """Close stdout after sending what was written (half-close)."""
        if self._writer is not None and not self._writeHalfClosed:
            self._writeHalfClosed = True
            self._writer.loseConnection()

    def getPeer(self) -> PipeAddress:
        return PipeAddress()

    def getHost(self) -> PipeAddress:
        return PipeAddress()

    # -- producers -------------------------------------------------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Let ``producer`` feed stdout, paced by its buffer."""
        if self._writer is None:
            producer.stopProducing()
        else:
            self._writer.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        if self._writer is not None:
            self._writer.unregisterProducer()

    def pauseProducing(self) -> None:
        """Stop reading stdin."""
        if self._reader is not None:
            self._reader.pauseProducing()

    def resumeProducing(self) -> None:
        """Read stdin again."""
        if self._reader is not None:
            self._reader.resumeProducing()

    def stopProducing(self) -> None:
        self.loseConnection()

    # -- the halves ------------------------------------------------------------------

    def _readerLost(self, reason: Failure) -> None:
        self._reader = None
        self._note(reason)
        if self._writer is None:
            self._finish()
            return
        readLost = getattr(self.protocol, "readConnectionLost", None)
        if readLost is not None and not self.disconnecting:
            try:
                readLost()
            except Exception:
                log.err(None, "Unhandled error in readConnectionLost")
                self.loseConnection()
        else:
            self.loseConnection()

    def _writerLost(self, reason: Failure) -> None:
        self._writer = None
        self._note(reason)
        if self._writeHalfClosed and not self.disconnecting:
            writeLost = getattr(self.protocol, "writeConnectionLost", None)
            if writeLost is not None:
                try:
                    writeLost()
                except Exception:
                    log.err(None, "Unhandled error in writeConnectionLost")
        if self._reader is None:
            self._finish()
        elif not self._writeHalfClosed:
            self._reader.loseConnection()

    def _note(self, reason: Failure) -> None:
        """Keep the first reason, unless a later one says something went wrong."""
        if self._reason is None or (
            self._reason.check(error.ConnectionDone) and not reason.check(error.ConnectionDone)
        ):
            self._reason = reason

    def _finish(self) -> None:
        if self.disconnected:
            return
        self.disconnected = True
        self.connected = 0
        reason = self._reason or Failure._withoutTraceback(error.ConnectionDone())
        try:
            self.protocol.connectionLost(reason)
        except Exception:
            log.err(None, "Unhandled error in connectionLost")
