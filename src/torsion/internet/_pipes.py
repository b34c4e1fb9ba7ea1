"""Pipes as Twisted transports: one :class:`Connection` per pipe end.

A child process's stdin/stdout/stderr (and standard I/O) are pipes the
event loop drives with ``connect_read_pipe``/``connect_write_pipe``.  Each
end is a :class:`PipeConnection`, the stream :class:`Connection` used by
TCP, so pipes get the same write coalescing, flow control, producers and
``loseConnection`` flushing.  The loop's pipe transport arrives after a
coroutine, so the connection starts on a :class:`PendingTransport` (writes
wait there, in order) and switches when the loop hands it the transport.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import Any

from torsion.internet._pending import PendingTransport
from torsion.internet._stream import Connection
from torsion.python import log

__all__ = ["PipeConnection", "openPipe"]

_CHUNK = 65536


def _pollable(fd: int) -> bool:
    """Whether the loop can watch ``fd`` (pipes, sockets and terminals can;
    regular files and /dev/null cannot be registered with epoll)."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        return True
    return stat.S_ISCHR(mode) and os.isatty(fd)


class _FileTransport:
    """A minimal asyncio-style transport for a regular file or /dev/null.

    Reading happens in chunks, one per loop iteration (a file never blocks
    for long); writing is a plain ``os.write``.
    """

    def __init__(self, loop: Any, protocol: Any, fd: int, reading: bool) -> None:
        self._loop = loop
        self._protocol = protocol
        self._fd = fd
        self._reading = reading
        self._paused = False
        self._closed = False

    def _read(self) -> None:
        if self._closed or self._paused:
            return
        try:
            data = os.read(self._fd, _CHUNK)
        except OSError as e:
            self._close(e)
            return
        if not data:
            self._protocol.eof_received()
            self._close(None)
            return
        self._protocol.data_received(data)
        self._loop.call_soon(self._read)

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            self._close(e)

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            if self._reading:
                self._loop.call_soon(self._read)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.close()

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._close(None)

    abort = close

    def _close(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        os.close(self._fd)
        self._loop.call_soon(self._protocol.connection_lost, exc)


class _AbortByClosing:
    """Read-pipe transports cannot ``abort`` (asyncio's lacks the method,
    uvloop's raises NotImplementedError); closing one is the same, as a read
    pipe has nothing buffered to flush."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def abort(self) -> None:
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class PipeConnection(Connection):
    """One pipe end driven by the loop, connected to ``protocol`` at once."""

    _reading = False

    def __init__(self, reactor: Any, protocol: Any) -> None:
        super().__init__(reactor)
        self._pendingTransport = PendingTransport()
        self._t = self._pendingTransport
        self.logstr = f"{type(protocol).__name__},pipe"
        self.reactor._dispatch(self._startProtocol, protocol)

    def connection_made(self, transport: Any) -> None:
        # Replay on the next iteration: uvloop attaches the pipe object to
        # its transport only after connection_made returns, and closing the
        # transport before that would leave the object holding a closed fd.
        self.reactor._getLoop().call_soon(self._attach, transport)

    def _attach(self, transport: Any) -> None:
        if self._reading:
            transport = _AbortByClosing(transport)
        if self._lost:
            transport.abort()
            return
        pending = self._pendingTransport
        self._t = transport
        pending.attach(transport)

    def _failedToOpen(self, exc: BaseException) -> None:
        if not self._lost:
            from torsion.python.failure import Failure

            self._connectionLost(Failure._withoutTraceback(exc))

    def getHost(self) -> Any:
        raise NotImplementedError("pipes have no address")

    getPeer = getHost


def openPipe(reactor: Any, fd: int, protocol: Any, reading: bool) -> PipeConnection:
    """Connect ``protocol`` to the pipe end ``fd`` (which the connection owns).

    Args:
        reactor: the reactor.
        fd: the file descriptor; closed when the connection ends.
        protocol: gets ``makeConnection``, ``dataReceived``, ``connectionLost``.
        reading: True to read from ``fd``, False to write to it.
    """
    conn = PipeConnection(reactor, protocol)
    conn._reading = reading
    loop: Any = reactor._getLoop()
    if not _pollable(fd):
        transport = _FileTransport(loop, conn, fd, reading)
        loop.call_soon(conn.connection_made, transport)
        if reading:
            loop.call_soon(transport._read)
        return conn
    pipe = os.fdopen(fd, "rb" if reading else "wb", buffering=0)
    connect = loop.connect_read_pipe if reading else loop.connect_write_pipe
    task = asyncio.ensure_future(connect(lambda: conn, pipe), loop=loop)

    def opened(task: asyncio.Future[Any]) -> None:
        if task.cancelled():
            pipe.close()
            conn._failedToOpen(ConnectionError("opening the pipe was cancelled"))
            return
        exc = task.exception()
        if exc is not None:
            log.err(exc, f"Could not watch file descriptor {fd}")
            pipe.close()
            conn._failedToOpen(exc)

    task.add_done_callback(opened)
    return conn
