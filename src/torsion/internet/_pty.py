"""Child processes on a pseudo-terminal (``spawnProcess(..., usePTY=True)``).

Twisted: ``twisted.internet.process.PTYProcess``; importable from
:mod:`torsion.internet.process`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from torsion.internet._pipes import PipeConnection, openPipe
from torsion.internet._spawn import takeTerminal
from torsion.internet.process import Process, _PipeEnd
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["PTYProcess"]


class PTYProcess(Process):
    """A child process on a pseudo-terminal. Twisted: ``process.PTYProcess``.

    The child's stdin, stdout and stderr are the terminal; everything it
    writes arrives as ``childDataReceived(1, data)``.  ``closeStdin`` and
    friends do nothing (a terminal is closed as a whole, by
    ``loseConnection``).
    """

    def __init__(
        self,
        reactor: Any,
        executable: str | bytes,
        args: Sequence[str | bytes],
        environment: Mapping[Any, Any] | None,
        path: str | bytes | None,
        proto: Any,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = True,
    ) -> None:
        import pty

        self.reactor = reactor
        self.proto = proto
        self.pipes = {}
        self._reapers = []
        self._ended = False
        if isinstance(usePTY, (tuple, list)):
            master, slave = usePTY[0], usePTY[1]
        else:
            master, slave = pty.openpty()
        try:
            self._popen = subprocess.Popen(
                list(args),
                executable=executable,
                env=os.environ if environment is None else environment,
                cwd=path,
                user=uid,
                group=gid,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
                preexec_fn=takeTerminal,
            )
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        os.close(slave)
        # Keep the terminal open until the child is reaped: closing the last
        # master descriptor hangs it up (SIGHUP), and our transports close
        # theirs as soon as reading fails, possibly before the child exits.
        self._held: int | None = os.dup(master)
        self.pid = self._popen.pid
        self.reactor._processes.add(self)
        self._watchExit()
        if isinstance(reactor._getLoop(), asyncio.BaseEventLoop):
            writer = os.dup(master)
            self.pipes[1] = openPipe(reactor, master, _PipeEnd(self, 1), True)
            self.pipes[0] = openPipe(reactor, writer, _PipeEnd(self, 0), False)
        else:
            # uvloop's write-pipe transport also reads a duplex descriptor
            # and hands the data to the protocol: one transport does both.
            self.pipes[1] = openPipe(reactor, master, _PipeEnd(self, 1), False)
        try:
            self.reactor._dispatch(proto.makeConnection, self)
        except Exception:
            log.err(None, f"Unhandled error in {proto!r}.makeConnection")

    def childConnectionLost(self, childFD: int, reason: Failure) -> None:
        self.pipes.pop(childFD, None)
        if childFD == 1:
            # The terminal is gone: so is the way to write to it.
            writer = self.pipes.get(0)
            if writer is not None:
                writer.abortConnection()
        self.maybeCallProcessEnded()

    def processEnded(self, status: int) -> None:
        self._release()
        super().processEnded(status)

    def _shutdown(self) -> None:
        self._release()
        super()._shutdown()

    def _release(self) -> None:
        if self._held is not None:
            os.close(self._held)
            self._held = None

    def closeChildFD(self, childFD: int) -> None:
        pass

    def _writer(self) -> PipeConnection | None:
        return self.pipes.get(0) or self.pipes.get(1)

    def write(self, data: bytes) -> None:
        """Write to the terminal (the child's input)."""
        writer = self._writer()
        if writer is not None:
            writer.write(data)

    def writeSequence(self, seq: Sequence[bytes]) -> None:
        writer = self._writer()
        if writer is not None:
            writer.writeSequence(seq)

    def writeToChild(self, childFD: int, data: bytes) -> None:
        raise NotImplementedError("a PTY process has only the terminal")

    def loseConnection(self) -> None:
        """Close the terminal."""
        for pipe in list(self.pipes.values()):
            pipe.loseConnection()
