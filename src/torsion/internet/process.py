"""Child processes: ``spawnProcess`` and the process transport.

Twisted: ``twisted.internet.process``.  The parent's ends of the child's
pipes are :class:`torsion.internet._pipes.PipeConnection` objects driven by
the loop's pipe transports.  The exit is noticed through a pidfd the loop
watches (Linux), else by a thread blocked in ``waitpid``; no SIGCHLD handler
is installed.

Spawning uses ``posix_spawnp`` with file actions that lay out the child's
file descriptors as ``childFDs`` asks, as Twisted does when it can; with
``path``, ``uid``, ``gid`` or ``usePTY`` it uses ``subprocess.Popen``.
``processEnded`` runs once the child has exited **and** every pipe has
closed, so all output has been delivered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from torsion.internet import error
from torsion.internet._pipes import PipeConnection, openPipe
from torsion.internet._spawn import applyPlan, exitReason, fdPlan, ignoredSignals
from torsion.python import log
from torsion.python.failure import Failure

if TYPE_CHECKING:
    from torsion.internet._pty import PTYProcess as PTYProcess

__all__ = ["PTYProcess", "Process", "ReactorProcessMixin"]

_SIGNAL_NAMES = ("HUP", "STOP", "INT", "KILL", "TERM")


class _PipeEnd:
    """The protocol of one pipe end: forwards to the process."""

    transport: Any = None

    def __init__(self, process: Process, childFD: int) -> None:
        self.process = process
        self.childFD = childFD

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport

    def dataReceived(self, data: bytes) -> None:
        self.process.childDataReceived(self.childFD, data)

    def connectionLost(self, reason: Failure) -> None:
        self.process.childConnectionLost(self.childFD, reason)


class Process:
    """A running child process, as the protocol's transport.

    Twisted: ``twisted.internet.process.Process``.

    Attributes:
        pid: the process id; None once it has been reaped.
        status: the raw wait status, once known (-1 before).
        pipes: the open pipes, by child file descriptor.
        proto: the ``ProcessProtocol`` (None after ``processEnded``).
    """

    status: int | None = -1
    lostProcess = 0
    pid: int | None = None

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
        childFDs: Mapping[int, Any] | None = None,
    ) -> None:
        self.reactor = reactor
        self.proto = proto
        self.pipes: dict[int, PipeConnection] = {}
        self._reapers: list[Any] = []
        self._popen: subprocess.Popen[bytes] | None = None
        self._ended = False
        if childFDs is None:
            childFDs = {0: "w", 1: "r", 2: "r"}
        fdmap: dict[int, int] = {}
        helpers: dict[int, tuple[int, bool]] = {}
        opened: list[int] = []
        try:
            for childFD, target in childFDs.items():
                if target in ("r", "w"):
                    r, w = os.pipe()
                    opened += [r, w]
                    reading = target == "r"
                    fdmap[childFD] = w if reading else r
                    helpers[childFD] = (r if reading else w, reading)
                elif isinstance(target, int):
                    fdmap[childFD] = target
                else:
                    raise ValueError(
                        f"childFDs[{childFD}] must be 'r', 'w' or an fd, not {target!r}"
                    )
            self.pid = self._spawn(executable, args, environment, path, uid, gid, fdmap)
        except BaseException:
            for fd in opened:
                os.close(fd)
            raise
        for childFD in helpers:
            os.close(fdmap[childFD])
        self.reactor._processes.add(self)
        self._watchExit()
        for childFD, (parentFD, reading) in helpers.items():
            self.pipes[childFD] = openPipe(reactor, parentFD, _PipeEnd(self, childFD), reading)
        try:
            self.reactor._dispatch(proto.makeConnection, self)
        except Exception:
            log.err(None, f"Unhandled error in {proto!r}.makeConnection")

    # -- spawning ----------------------------------------------------------------

    def _spawn(
        self,
        executable: str | bytes,
        args: Sequence[str | bytes],
        environment: Mapping[Any, Any] | None,
        path: str | bytes | None,
        uid: int | None,
        gid: int | None,
        fdmap: dict[int, int],
    ) -> int:
        env = os.environ if environment is None else environment
        actions, _ = fdPlan(fdmap)
        sameDir = path is None or os.path.abspath(path) == os.path.abspath(".")
        if uid is None and gid is None and sameDir and hasattr(os, "posix_spawnp"):
            fileActions = [
                (os.POSIX_SPAWN_DUP2, a[1], a[2])
                if a[0] == "dup2"
                else (os.POSIX_SPAWN_CLOSE, a[1])
                for a in actions
            ]
            return os.posix_spawnp(
                executable,
                list(args),
                env,
                file_actions=fileActions,
                setsigdef=ignoredSignals(),
            )
        self._popen = subprocess.Popen(
            list(args),
            executable=executable,
            env=env,
            cwd=path,
            user=uid,
            group=gid,
            close_fds=False,
            preexec_fn=lambda: applyPlan(actions),
        )
        return self._popen.pid

    # -- exit ----------------------------------------------------------------------

    def _watchExit(self) -> None:
        loop = self.reactor._getLoop()
        pid = self.pid
        assert pid is not None
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = -1
        if pidfd >= 0:

            def exited() -> None:
                loop.remove_reader(pidfd)
                os.close(pidfd)
                self._reapers.remove(stop)
                self._reap()

            def stop() -> None:
                loop.remove_reader(pidfd)
                os.close(pidfd)

            self._reapers.append(stop)
            loop.add_reader(pidfd, exited)
            return

        def wait() -> None:
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                return
            try:
                loop.call_soon_threadsafe(self.reactor._dispatch, self.processEnded, status)
            except RuntimeError:
                pass  # the loop is closed

        threading.Thread(target=wait, name=f"torsion waitpid {pid}", daemon=True).start()

    def _reap(self) -> None:
        if self.pid is None:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status = self.pid, 0
        if pid:
            self.reactor._dispatch(self.processEnded, status)

    def processEnded(self, status: int) -> None:
        """The child exited with wait status ``status`` (called once)."""
        if self._ended:
            return
        self._ended = True
        self.status = status
        self.lostProcess += 1
        self.pid = None
        if self._popen is not None:
            self._popen.returncode = -1 if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if self.proto is not None:
            try:
                self.proto.processExited(Failure._withoutTraceback(exitReason(status)))
            except Exception:
                log.err(None, "Unhandled error in processExited")
        self.maybeCallProcessEnded()

    def maybeCallProcessEnded(self) -> None:
        """Call the protocol's ``processEnded`` once the child and its pipes are gone."""
        if self.pipes or not self._ended or self.proto is None:
            return
        proto, self.proto = self.proto, None
        self.reactor._processes.discard(self)
        assert self.status is not None
        try:
            proto.processEnded(Failure._withoutTraceback(exitReason(self.status)))
        except Exception:
            log.err(None, "Unhandled error in processEnded")

    def _shutdown(self) -> None:
        """Reactor shutdown: close our pipe ends and stop watching (no signal)."""
        for stop in self._reapers:
            stop()
        self._reapers = []
        for pipe in list(self.pipes.values()):
            pipe._shutdown()
        self.reactor._processes.discard(self)

    # -- pipes ---------------------------------------------------------------------

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        if self.proto is not None:
            self.proto.childDataReceived(childFD, data)

    def childConnectionLost(self, childFD: int, reason: Failure) -> None:
        self.pipes.pop(childFD, None)
        if self.proto is not None:
            try:
                self.proto.childConnectionLost(childFD)
            except Exception:
                log.err(None, "Unhandled error in childConnectionLost")
        self.maybeCallProcessEnded()

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """Write to the child's ``childFD`` (opened with 'w')."""
        self.pipes[childFD].write(data)

    def closeChildFD(self, childFD: int) -> None:
        """Close our end of ``childFD``, after sending what was written."""
        pipe = self.pipes.get(childFD)
        if pipe is not None:
            pipe.loseConnection()

    def write(self, data: bytes) -> None:
        """Write to the child's stdin (dropped if there is none). Twisted: ``Process.write``."""
        pipe = self.pipes.get(0)
        if pipe is not None:
            pipe.write(data)

    def writeSequence(self, seq: Sequence[bytes]) -> None:
        pipe = self.pipes.get(0)
        if pipe is not None:
            pipe.writeSequence(seq)

    def closeStdin(self) -> None:
        """Close the child's stdin once written data is sent."""
        self.closeChildFD(0)

    def closeStdout(self) -> None:
        self.closeChildFD(1)

    def closeStderr(self) -> None:
        self.closeChildFD(2)

    def loseConnection(self) -> None:
        """Close stdin, stdout and stderr (the process keeps running)."""
        self.closeStdin()
        self.closeStderr()
        self.closeStdout()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """Feed the child's stdin from ``producer``."""
        pipe = self.pipes.get(0)
        if pipe is None:
            producer.stopProducing()
        else:
            pipe.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        pipe = self.pipes.get(0)
        if pipe is not None:
            pipe.unregisterProducer()

    def pauseProducing(self) -> None:
        """Stop reading the child's output."""
        for childFD, pipe in self.pipes.items():
            if childFD != 0:
                pipe.pauseProducing()

    def resumeProducing(self) -> None:
        """Read the child's output again."""
        for childFD, pipe in self.pipes.items():
            if childFD != 0:
                pipe.resumeProducing()

    def signalProcess(self, signalID: str | int) -> None:
        """Send a signal ('HUP', 'STOP', 'INT', 'KILL', 'TERM' or a number).

        Twisted: ``IProcessTransport.signalProcess``.

        Raises:
            ProcessExitedAlready: if the process has exited.
        """
        if isinstance(signalID, str) and signalID in _SIGNAL_NAMES:
            signalID = int(getattr(signal, f"SIG{signalID}"))
        if self.pid is None:
            raise error.ProcessExitedAlready()
        try:
            os.kill(self.pid, int(signalID))
        except ProcessLookupError:
            raise error.ProcessExitedAlready() from None

    def getHost(self) -> Any:
        raise NotImplementedError("processes have no address")

    getPeer = getHost

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} status={self.status}>"


class ReactorProcessMixin:
    """``IReactorProcess`` for the asyncio reactor."""

    @property
    def _processes(self) -> set[Process]:
        """The processes whose end has not been reported yet."""
        try:
            return self.__dict__["_runningProcesses"]  # type: ignore[no-any-return]
        except KeyError:
            return self.__dict__.setdefault("_runningProcesses", set())  # type: ignore[no-any-return]

    def spawnProcess(
        self,
        processProtocol: Any,
        executable: str | bytes,
        args: Sequence[str | bytes] = (),
        env: Mapping[Any, Any] | None = {},
        path: str | bytes | None = None,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = 0,
        childFDs: Mapping[int, Any] | None = None,
    ) -> Process:
        """Start a child process. Twisted: ``IReactorProcess.spawnProcess``.

        Args:
            processProtocol: a ``ProcessProtocol``.
            executable: the program, looked up in ``PATH`` if it has no slash.
            args: the whole argument vector, ``args[0]`` included.
            env: the child's environment (default: empty, as in Twisted;
                None means this process's).
            path: the child's working directory.
            uid: run as this user id.
            gid: run as this group id.
            usePTY: run on a new pseudo-terminal.
            childFDs: ``{childFD: 'r' | 'w' | parentFD}``; default
                ``{0: 'w', 1: 'r', 2: 'r'}``; other descriptors are closed.

        Raises:
            OSError: if the program cannot be started (e.g. not found).
            ValueError: for ``childFDs`` with ``usePTY``.
        """
        if usePTY and childFDs is not None:
            raise ValueError("Using childFDs is not supported with usePTY=True.")
        if not self.__dict__.get("_processShutdownHooked"):
            self.__dict__["_processShutdownHooked"] = True
            self.addSystemEventTrigger(  # type: ignore[attr-defined]
                "during", "shutdown", self._shutdownProcesses
            )
        if usePTY:
            from torsion.internet._pty import PTYProcess

            return PTYProcess(self, executable, args, env, path, processProtocol, uid, gid, usePTY)
        return Process(self, executable, args, env, path, processProtocol, uid, gid, childFDs)

    def _shutdownProcesses(self) -> None:
        """Stop watching children and close our pipe ends (children keep running)."""
        for proc in list(self._processes):
            proc._shutdown()


def __getattr__(name: str) -> Any:
    # PTYProcess lives in _pty (it subclasses Process); import it on demand.
    if name == "PTYProcess":
        from torsion.internet._pty import PTYProcess

        return PTYProcess
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
