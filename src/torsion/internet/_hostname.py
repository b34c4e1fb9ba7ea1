"""``HostnameEndpoint``: resolve a name, then race connections to its addresses.

Twisted: ``twisted.internet.endpoints.HostnameEndpoint``.  The addresses are
tried in the resolver's order (``getaddrinfo`` sorts them by RFC 6724
preference), one new attempt every ``attemptDelay`` seconds (0.3 by
default) while earlier ones are still pending; the first attempt to connect
wins and every other pending attempt is cancelled.  If every attempt fails,
the Deferred fails with the last failure.

One difference from Twisted, as RFC 8305 (happy eyeballs v2) recommends:
when an attempt fails and no other attempt is pending, the next address is
tried at once instead of at the next 0.3 s tick.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet._resolve import TCPAddress, resolveTCP
from torsion.internet._streamendpoints import TCP4ClientEndpoint, TCP6ClientEndpoint
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.base import isIPv4Address, isIPv6Address
from torsion.python.failure import Failure

__all__ = ["HostnameEndpoint"]


def _hostAsBytesAndText(host: str | bytes) -> tuple[bool, bytes, str]:
    """``(invalid, bytes form, text form)`` of a host name (IDNA for non-ASCII)."""
    if isinstance(host, bytes):
        try:
            text = host.decode("idna") if host.isascii() else host.decode("utf-8")
        except UnicodeError:
            text = host.decode("latin-1")
            if not isIPv6Address(text):
                escaped = host.decode("ascii", "backslashreplace")
                return True, escaped.encode("ascii"), escaped
        return False, host, text
    text = unicodedata.normalize("NFC", host)
    if isIPv6Address(text) or text.isascii():
        return False, text.encode("ascii"), text
    try:
        return False, text.encode("idna"), text
    except UnicodeError:
        escapedBytes = text.encode("ascii", "backslashreplace")
        return True, escapedBytes, escapedBytes.decode("ascii")


class HostnameEndpoint:
    """A client endpoint for a host name, racing its resolved addresses.

    Twisted: ``twisted.internet.endpoints.HostnameEndpoint``.

    Args:
        reactor: provides ``connectTCP`` and ``callLater``, and name
            resolution (a ``nameResolver``, an asyncio loop, or threads).
        host: the host name (text or bytes) or an address literal.
        port: the port number.
        timeout: seconds before each single attempt fails.
        bindAddress: a local address (``str``) or ``(host, port)``.
        attemptDelay: seconds between starting attempts (default 0.3).
    """

    _DEFAULT_ATTEMPT_DELAY = 0.3

    def __init__(
        self,
        reactor: Any,
        host: str | bytes,
        port: int,
        timeout: float = 30,
        bindAddress: str | bytes | tuple[str | bytes, int] | None = None,
        attemptDelay: float | None = None,
    ) -> None:
        self._reactor = reactor
        self._badHostname, self._hostBytes, self._hostText = _hostAsBytesAndText(host)
        self._port = port
        self._timeout = timeout
        if isinstance(bindAddress, (str, bytes)):
            bindAddress = (bindAddress, 0)
        if bindAddress is not None and isinstance(bindAddress[0], bytes):
            bindAddress = (bindAddress[0].decode(), bindAddress[1])
        self._bindAddress = bindAddress
        self._attemptDelay = self._DEFAULT_ATTEMPT_DELAY if attemptDelay is None else attemptDelay

    def __repr__(self) -> str:
        if self._badHostname:
            host = self._hostText
        elif isIPv6Address(self._hostText):
            host = f"[{self._hostText}]"
        else:
            host = self._hostBytes.decode("ascii")
        return f"<HostnameEndpoint {host}:{self._port}>"

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        """Resolve, then connect to the first address that answers.

        Twisted: ``HostnameEndpoint.connect``.

        Returns:
            A Deferred firing with the connected protocol.  It fails with
            ``ValueError`` for an invalid host name, ``DNSLookupError`` when
            the name does not resolve (or resolves to nothing), the last
            connection error when every address fails, or
            ``ConnectingCancelledError`` when cancelled, during resolution
            or while connecting (pending attempts are then cancelled).
        """
        if self._badHostname:
            return _failed(ValueError(f"invalid hostname: {self._hostText}"))
        return _Race(self, protocolFactory).start()

    def _endpointFor(self, address: TCPAddress) -> Any:
        bind: Any = self._bindAddress
        if isinstance(address, IPv6Address):
            cls: Any = TCP6ClientEndpoint
        else:
            cls = TCP4ClientEndpoint
        return cls(self._reactor, address.host, address.port, self._timeout, bind)


def _failed(exc: BaseException) -> Deferred[Any]:
    d: Deferred[Any] = Deferred()
    d.errback(Failure(exc))
    return d


class _Race:
    """One ``connect()`` of a :class:`HostnameEndpoint`."""

    def __init__(self, endpoint: HostnameEndpoint, protocolFactory: Any) -> None:
        self.endpoint = endpoint
        self.factory = protocolFactory
        self.reactor = endpoint._reactor
        self.result: Deferred[Any] = Deferred(self._cancel)
        self.resolving: Deferred[Any] | None = None
        self.remaining: list[TCPAddress] = []
        self.pending: list[Deferred[Any]] = []
        self.failures: list[Failure] = []
        self.timer: Any = None
        self.finished = False

    def start(self) -> Deferred[Any]:
        ep = self.endpoint
        host = ep._hostText
        if isIPv4Address(host):
            self._resolved([IPv4Address("TCP", host, ep._port)])
        elif isIPv6Address(host):
            self._resolved([IPv6Address("TCP", host, ep._port)])
        else:
            self.resolving = resolveTCP(self.reactor, host, ep._port)
            self.resolving.addCallbacks(self._resolved, self._notResolved)
        return self.result

    def _notResolved(self, reason: Failure) -> None:
        self.resolving = None
        if not self.result.called:
            self.result.errback(
                error.DNSLookupError(f"Couldn't find the hostname '{self.endpoint._hostText}'")
            )

    def _resolved(self, addresses: list[TCPAddress]) -> None:
        self.resolving = None
        if self.result.called:
            return
        if not addresses:
            self.result.errback(
                error.DNSLookupError(f"no results for hostname lookup: {self.endpoint._hostText}")
            )
            return
        self.remaining = list(addresses)
        self._next()

    def _next(self) -> None:
        """Start the next attempt and schedule the one after."""
        self.timer = None
        address = self.remaining.pop(0)
        attempt = self.endpoint._endpointFor(address).connect(self.factory)
        self.pending.append(attempt)
        if self.remaining:
            self.timer = self.reactor.callLater(self.endpoint._attemptDelay, self._next)
        attempt.addCallbacks(self._won, self._lost, callbackArgs=(attempt,), errbackArgs=(attempt,))

    def _won(self, protocol: Any, attempt: Deferred[Any]) -> None:
        if attempt in self.pending:
            self.pending.remove(attempt)
        self.finished = True
        self._stopOthers()
        if self.result.called:
            # Nobody is waiting for this connection any more: do not leak it.
            protocol.transport.loseConnection()
            return
        self.result.callback(protocol)

    def _lost(self, reason: Failure, attempt: Deferred[Any]) -> None:
        if attempt in self.pending:
            self.pending.remove(attempt)
        if self.finished or self.result.called:
            return
        self.failures.append(reason)
        if self.pending:
            return
        if self.remaining:
            if self.timer is not None:
                self.timer.cancel()
            self._next()
            return
        self.finished = True
        self.result.errback(self.failures[-1])

    def _stopOthers(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.remaining = []
        pending, self.pending = self.pending, []
        for attempt in pending:
            attempt.cancel()

    def _cancel(self, d: Deferred[Any]) -> None:
        ep = self.endpoint
        self.finished = True
        d.errback(error.ConnectingCancelledError(HostnameAddress(ep._hostBytes, ep._port)))
        if self.resolving is not None:
            resolving, self.resolving = self.resolving, None
            resolving.cancel()
        self._stopOthers()
