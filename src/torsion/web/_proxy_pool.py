"""Idle keep-alive upstream connections of the proxy, shared across requests.

A :class:`~torsion.web._proxy_client.ProxyClient` that finished a response
with the connection still reusable goes back here; the next request to the
same ``(factory class, host, port)`` takes it instead of connecting again.
Idle connections expire after ``idleTimeout`` seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torsion.internet.base import secondsFunction

if TYPE_CHECKING:
    from torsion.web._proxy_client import ProxyClient

__all__ = ["ConnectionPool"]


class ConnectionPool:
    """Idle keep-alive upstream connections, by ``(factory class, host, port)``.

    Twisted has no equivalent in ``twisted.web.proxy`` (its client closes
    every connection); the close method mirrors
    ``HTTPConnectionPool.closeCachedConnections``.
    """

    def __init__(
        self, reactor: Any, timeout: float = 30.0, maxIdle: int = 256, idleTimeout: float = 30.0
    ) -> None:
        self.reactor = self.clock = reactor
        self._seconds = secondsFunction(reactor)
        self.timeout = timeout
        self.maxIdle = maxIdle
        self.idleTimeout = idleTimeout
        self._idle: dict[Any, list[ProxyClient]] = {}
        self._all: set[ProxyClient] = set()
        self._sweep: Any = None

    def get(self, key: Any) -> ProxyClient | None:
        """An idle connection for ``key``, or None."""
        idle = self._idle.get(key)
        while idle:
            client = idle.pop()
            if client.transport is not None and client.transport.connected:
                client._reused = True
                return client
        return None

    def opened(self, client: ProxyClient) -> None:
        self._all.add(client)

    def release(self, client: ProxyClient) -> None:
        idle = self._idle.setdefault(client._key, [])
        if len(idle) >= self.maxIdle:
            client.transport.loseConnection()
            return
        client._idleSince = self._seconds()
        idle.append(client)
        if self._sweep is None:
            self._sweep = self.clock.callLater(self.idleTimeout, self._expire)

    def forget(self, client: ProxyClient) -> None:
        self._all.discard(client)
        idle = self._idle.get(client._key)
        if idle and client in idle:
            idle.remove(client)

    def _expire(self) -> None:
        self._sweep = None
        limit = self._seconds() - self.idleTimeout
        remaining = 0
        for idle in self._idle.values():
            for client in [c for c in idle if c._idleSince <= limit]:
                idle.remove(client)
                client.transport.loseConnection()
            remaining += len(idle)
        if remaining:
            self._sweep = self.clock.callLater(self.idleTimeout, self._expire)

    def closeCachedConnections(self) -> None:
        """Close every idle connection and stop the idle timer."""
        if self._sweep is not None and self._sweep.active():
            self._sweep.cancel()
        self._sweep = None
        idle, self._idle = self._idle, {}
        for clients in idle.values():
            for client in clients:
                client.transport.loseConnection()

    def closeAll(self) -> None:
        """Abort every upstream connection, busy or idle (shutdown)."""
        self.closeCachedConnections()
        for client in list(self._all):
            if client.transport is not None:
                client.transport.abortConnection()
