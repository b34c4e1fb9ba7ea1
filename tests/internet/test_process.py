"""spawnProcess on a real loop: cat, exit codes, signals, 10 MiB of output,
childFDs, PTYs, and the same scenarios under Twisted for comparison."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.support import runUntil
from torsion.internet import error, protocol
from torsion.internet.defer import Deferred


class Recorder(protocol.ProcessProtocol):
    """Records every event; ``ended`` fires from processEnded."""

    def __init__(self) -> None:
        self.ended: Deferred[Any] = Deferred()
        self.events: list[Any] = []
        self.out: dict[int, bytearray] = {}
        self.exited: Any = None

    def connectionMade(self) -> None:
        self.events.append("connectionMade")

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.out.setdefault(childFD, bytearray()).extend(data)

    def childConnectionLost(self, childFD: int) -> None:
        self.events.append(("childConnectionLost", childFD))

    def processExited(self, reason: Any) -> None:
        self.exited = reason
        self.events.append("processExited")

    def processEnded(self, reason: Any) -> None:
        self.events.append("processEnded")
        self.ended.callback([reason])


def summary(reason: Any) -> tuple[str, Any, Any]:
    value = reason.value
    return (type(value).__name__, value.exitCode, value.signal)


def test_cat_echoes_stdin(reactor: Any) -> None:
    """cat copies what we write to its stdin; closing stdin ends it with ProcessDone."""
    proto = Recorder()
    proc = reactor.spawnProcess(proto, "cat", ["cat"], env=None)
    assert proc.pid > 0
    proto.transport.write(b"hello ")
    proto.transport.writeSequence([b"cat", b"\n"])
    proto.transport.closeStdin()
    [reason] = runUntil(reactor, proto.ended)
    assert bytes(proto.out[1]) == b"hello cat\n"
    assert reason.check(error.ProcessDone)
    assert summary(reason) == ("ProcessDone", 0, None)
    assert proto.events[0] == "connectionMade"
    assert proto.events[-1] == "processEnded"
    assert sorted(e for e in proto.events if isinstance(e, tuple)) == [
        ("childConnectionLost", 0),
        ("childConnectionLost", 1),
        ("childConnectionLost", 2),
    ]
    assert proc.pid is None
    with pytest.raises(error.ProcessExitedAlready):
        proc.signalProcess("TERM")


def test_exit_code(reactor: Any) -> None:
    """sh -c 'exit 3' ends with ProcessTerminated(exitCode=3)."""
    proto = Recorder()
    reactor.spawnProcess(proto, "sh", ["sh", "-c", "exit 3"], env=None)
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessTerminated)
    assert summary(reason) == ("ProcessTerminated", 3, None)
    assert os.WEXITSTATUS(reason.value.status) == 3
    assert summary(proto.exited) == summary(reason)


def test_killed_by_signal(reactor: Any) -> None:
    """A child killed with signalProcess('KILL') ends with ProcessTerminated(signal=9)."""
    proto = Recorder()
    proc = reactor.spawnProcess(proto, "sleep", ["sleep", "30"], env=None)
    proc.signalProcess("KILL")
    [reason] = runUntil(reactor, proto.ended)
    assert summary(reason) == ("ProcessTerminated", None, signal.SIGKILL)
    assert os.WTERMSIG(reason.value.status) == signal.SIGKILL


def test_ten_mib_of_stdout(reactor: Any) -> None:
    """Every byte of 10 MiB written to stdout arrives before processEnded."""
    size = 10 * 1024 * 1024
    code = f"import sys; sys.stdout.buffer.write(bytes(range(256)) * {size // 256})"
    proto = Recorder()
    reactor.spawnProcess(proto, sys.executable, [sys.executable, "-c", code], env=None)
    [reason] = runUntil(reactor, proto.ended, timeout=30)
    assert reason.check(error.ProcessDone)
    assert len(proto.out[1]) == size
    assert bytes(proto.out[1]) == bytes(range(256)) * (size // 256)


def test_stderr_env_and_path(reactor: Any, tmp_path: Any) -> None:
    """stderr arrives on fd 2; env and path are the child's environment and directory."""
    proto = Recorder()
    reactor.spawnProcess(
        proto,
        "sh",
        ["sh", "-c", 'echo "$GREETING" >&2; pwd'],
        env={"GREETING": "hi there", "PATH": os.environ["PATH"]},
        path=str(tmp_path),
    )
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessDone)
    assert bytes(proto.out[2]) == b"hi there\n"
    assert bytes(proto.out[1]).strip() == os.fsencode(os.path.realpath(tmp_path))


def test_default_env_is_empty(reactor: Any) -> None:
    """As in Twisted, the default env={} gives the child an empty environment."""
    proto = Recorder()
    reactor.spawnProcess(
        proto,
        sys.executable,
        [sys.executable, "-c", "import os, sys; sys.stdout.write(repr(sorted(os.environ)))"],
    )
    runUntil(reactor, proto.ended)
    names = eval(bytes(proto.out[1]).decode())  # noqa: S307 - our own child's repr
    assert [n for n in names if n not in ("LC_CTYPE",)] == []


def test_child_fds_mapping(reactor: Any) -> None:
    """childFDs can add a pipe at fd 3 and leave out stderr (closed in the child)."""
    code = textwrap.dedent(
        """
        import os
        os.write(3, b"on three")
        try:
            os.write(2, b"x")
            print("stderr open")
        except OSError:
            print("stderr closed")
        """
    )
    proto = Recorder()
    reactor.spawnProcess(
        proto,
        sys.executable,
        [sys.executable, "-c", code],
        env=None,
        childFDs={0: "w", 1: "r", 3: "r"},
    )
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessDone), reason
    assert bytes(proto.out[3]) == b"on three"
    assert bytes(proto.out[1]) == b"stderr closed\n"


def test_child_fds_swapped(reactor: Any) -> None:
    """Mapping child fd 1 to the pipe of fd 2 and vice versa keeps them apart."""
    code = "import os; os.write(1, b'one'); os.write(2, b'two')"
    r1, w1 = os.pipe()
    r2, w2 = os.pipe()
    proto = Recorder()
    try:
        reactor.spawnProcess(
            proto,
            sys.executable,
            [sys.executable, "-c", code],
            env=None,
            childFDs={0: "w", 1: w2, 2: w1},
        )
    finally:
        os.close(w1)
        os.close(w2)
    runUntil(reactor, proto.ended)
    with os.fdopen(r1, "rb") as f1, os.fdopen(r2, "rb") as f2:
        assert f1.read() == b"two"
        assert f2.read() == b"one"


def test_missing_executable_raises(reactor: Any) -> None:
    """A program that does not exist makes spawnProcess raise, leaking nothing."""
    with pytest.raises(FileNotFoundError):
        reactor.spawnProcess(Recorder(), "/nonexistent/torsion-test", ["x"])


def test_lose_connection_closes_pipes(reactor: Any) -> None:
    """loseConnection closes all three pipes; cat then sees EOF and exits."""
    proto = Recorder()
    reactor.spawnProcess(proto, "cat", ["cat"], env=None)
    proto.transport.loseConnection()
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessDone, error.ProcessTerminated)


def test_use_pty(reactor: Any) -> None:
    """With usePTY the child sees a terminal and its output arrives on fd 1."""
    proto = Recorder()
    reactor.spawnProcess(
        proto,
        sys.executable,
        [sys.executable, "-c", "import os; print(os.isatty(0), os.isatty(1))"],
        env=None,
        usePTY=True,
    )
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessDone)
    assert bytes(proto.out[1]).strip() == b"True True"
    with pytest.raises(ValueError):
        reactor.spawnProcess(Recorder(), "true", ["true"], usePTY=True, childFDs={1: "r"})


TWISTED_SCENARIOS = textwrap.dedent(
    """
    import json, sys
    from twisted.internet import reactor, protocol

    results = {}
    pending = []

    class P(protocol.ProcessProtocol):
        def __init__(self, name):
            self.name = name
        def processEnded(self, reason):
            v = reason.value
            results[self.name] = [type(v).__name__, v.exitCode, v.signal]
            pending.remove(self.name)
            if not pending:
                reactor.stop()

    def start():
        for name, args in [("cat", ["cat"]), ("exit3", ["sh", "-c", "exit 3"]),
                           ("kill", ["sleep", "30"])]:
            pending.append(name)
            t = reactor.spawnProcess(P(name), args[0], args, env=None)
            if name == "cat":
                t.closeStdin()
            if name == "kill":
                t.signalProcess("KILL")

    reactor.callWhenRunning(start)
    reactor.run()
    print(json.dumps(results, sort_keys=True))
    """
)


def test_reasons_match_twisted(reactor: Any) -> None:
    """Reason types, exit codes and signals equal Twisted's for the same children."""
    twisted = subprocess.run(
        [sys.executable, "-c", TWISTED_SCENARIOS], capture_output=True, timeout=60, check=True
    )
    expected = json.loads(twisted.stdout)
    ours = {}
    for name, args in [
        ("cat", ["cat"]),
        ("exit3", ["sh", "-c", "exit 3"]),
        ("kill", ["sleep", "30"]),
    ]:
        proto = Recorder()
        proc = reactor.spawnProcess(proto, args[0], args, env=None)
        if name == "cat":
            proc.closeStdin()
        if name == "kill":
            proc.signalProcess("KILL")
        [reason] = runUntil(reactor, proto.ended)
        ours[name] = list(summary(reason))
    assert ours == expected


def test_pty_input(reactor: Any) -> None:
    """Writes to a PTY process reach the child as terminal input (cat, then ^D)."""
    proto = Recorder()
    proc = reactor.spawnProcess(proto, "cat", ["cat"], env=None, usePTY=True)
    proc.write(b"typed\n")
    proc.write(b"\x04")  # end of input at the start of a line
    [reason] = runUntil(reactor, proto.ended)
    assert reason.check(error.ProcessDone)
    assert bytes(proto.out[1]).count(b"typed") == 2  # the terminal's echo and cat's copy


def test_reactor_shutdown_releases_running_children(reactor: Any) -> None:
    """Stopping the reactor closes our pipes and watchers; the child is not signalled."""
    proto = Recorder()
    proc = reactor.spawnProcess(proto, "sleep", ["sleep", "30"], env=None)
    pid = proc.pid
    reactor.callLater(0.05, reactor.stop)
    reactor.run(installSignalHandlers=False)
    try:
        assert not reactor._connections
        assert not reactor._processes
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # still running
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
