"""``FileSender``: copy a file to a consumer. Public through :mod:`torsion.protocols.basic`."""

from __future__ import annotations

from typing import IO, Any

from torsion.internet._defer import Deferred

__all__ = ["FileSender"]


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
