"""A torsion echo server in a child process, for reconnection tests.

The child listens on a ``serverFromString`` description, prints
``listening <port>`` once it does, and echoes what it receives.  Tests
start, kill and restart it from the reactor's event loop and wait on its
output (never on a timer).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from torsion.internet.defer import Deferred

SCRIPT = """
import sys
from torsion.internet import protocol
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.internet.endpoints import serverFromString

class Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)

reactor = AsyncioReactor()

def listening(port):
    print("listening", port.getHost().port, flush=True)

def failed(reason):
    print("failed", reason.getErrorMessage(), flush=True)
    reactor.stop()

endpoint = serverFromString(reactor, sys.argv[1])
endpoint.listen(protocol.Factory.forProtocol(Echo)).addCallbacks(listening, failed)
reactor.run()
"""


class ServerProcess:
    """One run of the echo server child process."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port

    @classmethod
    async def _start(cls, description: str, timeout: float) -> ServerProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SCRIPT, description, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
        except BaseException:
            process.kill()
            await process.wait()
            await process.stdout.read()
            raise
        words = line.decode().split()
        if words[:1] != ["listening"]:
            process.kill()
            await process.wait()
            await process.stdout.read()
            raise RuntimeError(f"echo server did not start: {line!r}")
        return cls(process, int(words[1]))

    async def _kill(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        code = await self.process.wait()
        assert self.process.stdout is not None
        await self.process.stdout.read()  # to EOF, so the pipe is closed
        return code


def _deferred(reactor: Any, coro: Any) -> Deferred[Any]:
    return Deferred.fromFuture(asyncio.ensure_future(coro, loop=reactor.loop))


def startServer(reactor: Any, port: int = 0, timeout: float = 30.0) -> Deferred[ServerProcess]:
    """Start the echo server on 127.0.0.1:``port``; fires once it listens."""
    description = f"tcp:{port}:interface=127.0.0.1"
    return _deferred(reactor, ServerProcess._start(description, timeout))


def killServer(reactor: Any, server: ServerProcess) -> Deferred[int]:
    """SIGKILL the server; fires with its exit status once it is gone."""
    return _deferred(reactor, server._kill())
