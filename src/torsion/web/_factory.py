"""``HTTPFactory``, which builds :class:`HTTPChannel` protocols.

Twisted: ``twisted.web.http.HTTPFactory``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any

from torsion.internet import protocol
from torsion.web._channel import HTTPChannel

__all__ = ["HTTPFactory", "combinedLogFormatter"]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _logTimestamp(when: float) -> str:
    t = time.gmtime(when)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


def _escape(value: bytes | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return repr(value)[1:-1].replace('"', '\\"')


def combinedLogFormatter(timestamp: str, request: Any) -> str:
    """One access-log line in the Apache combined format.

    Twisted: ``twisted.web.http.combinedLogFormatter``.
    """
    addr = request.getClientAddress()
    ip = getattr(addr, "host", "-")
    referrer = _escape(request.getHeader(b"referer"))
    agent = _escape(request.getHeader(b"user-agent"))
    line = (
        f'"{ip}" - - {timestamp} "{_escape(request.method)} {_escape(request.uri)} '
        f'{_escape(request.clientproto)}" {request.code} '
        f'{request.sentLength or "-"} "{referrer}" "{agent}"'
    )
    return line


class HTTPFactory(protocol.ServerFactory):
    """A factory of :class:`HTTPChannel` (or ``protocol``) connections.

    Twisted: ``twisted.web.http.HTTPFactory``.

    Args:
        logPath: a file to append one access-log line per request to.
        timeout: the idle timeout of each connection, in seconds (None: off).
        logFormatter: ``(timestamp, request) -> str`` for the log lines.
        reactor: the reactor (clock) for timeouts; the global one if None.
    """

    protocol: Any = HTTPChannel
    timeOut: float | None = 60.0
    logPath: str | None = None

    def __init__(
        self,
        logPath: str | None = None,
        timeout: float | None = 60.0,
        logFormatter: Callable[[str, Any], str] | None = None,
        reactor: Any = None,
    ) -> None:
        self.logPath = logPath
        self.timeOut = timeout
        self._logFormatter = logFormatter or combinedLogFormatter
        self.reactor = reactor
        self.logFile: IO[str] | None = None

    def _getReactor(self) -> Any:
        if self.reactor is None:
            from torsion.internet import reactor

            self.reactor = reactor
        return self.reactor

    def buildProtocol(self, addr: Any) -> Any:
        p = self.protocol()
        p.factory = self
        p.timeOut = self.timeOut
        p._clock = self._getReactor()
        return p

    def startFactory(self) -> None:
        if self.logPath and self.logFile is None:
            self.logFile = open(self.logPath, "a", buffering=1)  # noqa: SIM115

    def stopFactory(self) -> None:
        if self.logFile is not None:
            self.logFile.close()
            self.logFile = None

    def log(self, request: Any) -> None:
        """Write an access-log line for ``request`` (if logging is on).

        Twisted: ``HTTPFactory.log``.
        """
        if self.logFile is not None:
            line = self._logFormatter(_logTimestamp(time.time()), request)
            self.logFile.write(line + "\n")
