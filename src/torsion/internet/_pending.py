"""A stand-in asyncio transport for the time before the real one exists.

:class:`torsion.internet._stream.Connection` always talks to ``self._t``.
Sometimes the asyncio transport it should talk to is not available yet:

* during STARTTLS, between ``startTLS()`` and the end of the handshake
  (``loop.start_tls`` returns the TLS transport only then), bytes written must
  not reach the old plaintext transport;
* for standard I/O, ``connect_read_pipe``/``connect_write_pipe`` are
  coroutines, while Twisted's ``StandardIO`` connects its protocol at once.

:class:`PendingTransport` takes the place of ``_t`` meanwhile: it keeps
writes (in order), remembers a requested close or half-close and whether
reading should be paused, and replays all of it onto the real transport in
:meth:`PendingTransport.attach`.  Nothing on the connection's hot path
changes: ``Connection.write`` calls ``_t.write`` as usual.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PendingTransport"]


class PendingTransport:
    """Collects what a connection asks of its transport until :meth:`attach`.

    Args:
        underlying: the transport to ask for addresses and extra info
            meanwhile (the plaintext transport during STARTTLS), or None.
        aborter: called by :meth:`abort` (e.g. to abort the plaintext
            transport, which ends the handshake).
    """

    def __init__(self, underlying: Any = None, aborter: Any = None) -> None:
        self._underlying = underlying
        self._aborter = aborter
        self._writes: list[bytes] = []
        self._size = 0
        self._closing = False
        self._eof = False
        self._readPaused = False
        self._aborted = False

    # -- what Connection calls -----------------------------------------------

    def write(self, data: bytes) -> None:
        if self._closing or self._eof or self._aborted:
            return
        self._writes.append(data)
        self._size += len(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(bytes(chunk))

    def get_write_buffer_size(self) -> int:
        size = self._size
        if self._underlying is not None:
            try:
                size += self._underlying.get_write_buffer_size()
            except Exception:
                pass
        return size

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if self._underlying is None:
            return default
        return self._underlying.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._readPaused = True

    def resume_reading(self) -> None:
        self._readPaused = False

    def is_reading(self) -> bool:
        return not self._readPaused

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self._eof = True

    def close(self) -> None:
        self._closing = True

    def is_closing(self) -> bool:
        return self._closing or self._aborted

    def abort(self) -> None:
        if self._aborted:
            return
        self._aborted = True
        self._writes = []
        self._size = 0
        if self._aborter is not None:
            self._aborter()

    # -- replay ----------------------------------------------------------------

    def attach(self, transport: Any) -> None:
        """Hand everything collected so far to ``transport``, in order."""
        if self._readPaused:
            transport.pause_reading()
        writes, self._writes = self._writes, []
        self._size = 0
        if len(writes) == 1:
            transport.write(writes[0])
        elif writes:
            transport.write(b"".join(writes))
        if self._closing:
            transport.close()
        elif self._eof and transport.can_write_eof():
            transport.write_eof()
