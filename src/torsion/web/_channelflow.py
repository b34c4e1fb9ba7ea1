"""Flow control of the HTTP server connection, in both directions.

:class:`ChannelFlow` is the part of
:class:`~torsion.web._channel.HTTPChannel` that decides when to read from
the client: reading pauses for several independent reasons at once (bit
flags, below) and resumes when the last one clears.  The channel is also
its transport's push producer, relaying the client's pace to the producer
a request registered for its response (Twisted: ``HTTPChannel``'s
``IConsumer``/``IPushProducer`` methods).
"""

from __future__ import annotations

from typing import Any

__all__ = ["ChannelFlow"]

# Reasons for not reading from the client (bit flags).
_PIPELINE = 1  # too many requests waiting for their turn
_CONSUMER = 2  # the client is not reading our responses
_BODY = 4  # too many body bytes buffered for waiting requests
_ERROR = 8  # an error response is on its way; the connection will close
_UPGRADE = 16  # a tunnel is being set up


class ChannelFlow:
    """Pausing and resuming the client's reads; producers of responses."""

    transport: Any
    _clock: Any
    _pullCall: Any
    _reqProducer: Any
    _reqStreaming: bool
    _readFlags: int
    _closing: bool
    _lost: bool

    def _pauseReading(self, flag: int) -> None:
        if not self._readFlags:
            self.transport.pauseProducing()
        self._readFlags |= flag

    def _resumeReading(self, flag: int) -> None:
        if self._readFlags & flag:
            self._readFlags &= ~flag
            if not self._readFlags and not self._closing:
                self.transport.resumeProducing()

    def pauseProducing(self) -> None:
        """The client stopped reading: stop reading it and pause the response's producer."""
        self._pauseReading(_CONSUMER)
        producer = self._reqProducer
        if producer is not None and self._reqStreaming:
            producer.pauseProducing()

    def resumeProducing(self) -> None:
        self._resumeReading(_CONSUMER)
        producer = self._reqProducer
        if producer is not None:
            if self._reqStreaming:
                producer.resumeProducing()
            else:
                self._schedulePull()

    def stopProducing(self) -> None:
        """The transport is going away; ``connectionLost`` follows."""

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """A request's producer feeds the response. Twisted: ``registerProducer``."""
        if self._reqProducer is not None:
            raise RuntimeError(f"producer {self._reqProducer!r} is still registered")
        if self._lost:
            producer.stopProducing()
            return
        self._reqProducer = producer
        self._reqStreaming = bool(streaming)
        if streaming:
            if self._readFlags & _CONSUMER:
                producer.pauseProducing()
        else:
            self._schedulePull()

    def unregisterProducer(self) -> None:
        self._reqProducer = None
        if self._pullCall is not None and self._pullCall.active():
            self._pullCall.cancel()
        self._pullCall = None

    def _schedulePull(self) -> None:
        if self._pullCall is None or not self._pullCall.active():
            self._pullCall = self._clock.callLater(0, self._pull)

    def _pull(self) -> None:
        self._pullCall = None
        producer = self._reqProducer
        if producer is None or self._reqStreaming or self._readFlags & _CONSUMER or self._lost:
            return
        producer.resumeProducing()
        if self._reqProducer is producer:
            self._schedulePull()
