"""Two-way tunnels of the forward proxy: CONNECT, and accepted ``Upgrade``.

After a ``200 Connection established`` (CONNECT) or a relayed ``101``
(Upgrade), the client and upstream transports are spliced: bytes go
through untouched and each transport is the other's producer, so a slow
side slows the other instead of filling memory.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol
from torsion.python.failure import Failure
from torsion.web._proxy_rewrite import ProxyPolicy, Target

__all__ = ["TunnelMixin"]


class _TunnelClient(protocol.Protocol):
    """The upstream end of a CONNECT tunnel."""

    _tunnel: Any = None
    _onLost: Any = None

    def __init__(self, request: Any) -> None:
        self.request = request

    def connectionMade(self) -> None:
        self.request._tunnelReady(self)

    def dataReceived(self, data: bytes) -> None:
        tunnel = self._tunnel
        if tunnel is not None:
            tunnel(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        onLost = self._onLost
        if onLost is not None:
            self._onLost = self._tunnel = None
            onLost(reason)


class _TunnelFactory(protocol.ClientFactory):
    noisy = False

    def __init__(self, request: Any) -> None:
        self.request = request

    def buildProtocol(self, addr: Any) -> Any:
        return _TunnelClient(self.request)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        from torsion.internet import error

        status = 504 if reason.check(error.TimeoutError) else 502
        self.request._upstreamFailed(status, f"could not connect: {reason.getErrorMessage()}")


class TunnelMixin:
    """The tunnel half of :class:`~torsion.web._proxy_request.ProxyRequest`."""

    # Provided by ProxyRequest / Request.
    channel: Any
    code: int
    code_message: bytes
    startedWriting: int
    finished: int
    responseHeaders: Any
    _disconnected: bool
    _persistent: bool
    _client: Any
    _tunnelBytes: int
    _refuse: Any
    _dial: Any

    def _startTunnel(self, target: Target, policy: ProxyPolicy) -> None:
        if target.port not in policy.connectPorts:
            self._persistent = False
            self._refuse(403, f"CONNECT to port {target.port} not allowed")
            return
        self._dial(target.host, target.port, _TunnelFactory(self), policy)

    def _tunnelReady(self, upstream: Any) -> None:
        if self._disconnected or self.finished:
            upstream.transport.abortConnection()
            return
        self.code = 200
        self.startedWriting = 1
        self.channel.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self._splice(upstream, b"")

    def _upgradeAccepted(self, client: Any, rest: bytes) -> None:
        """Upstream answered 101: relay the head, then splice the two sockets."""
        if self._disconnected or self.finished:
            client.transport.abortConnection()
            return
        pool = client._pool
        if pool is not None:
            pool.forget(client)
            client._pool = None
        client.father = None
        self._client = None
        self.startedWriting = 1
        self.channel.writeHeaders(
            b"HTTP/1.1", b"%d" % self.code, self.code_message, self.responseHeaders
        )
        self._splice(client, rest)

    def _splice(self, upstream: Any, fromUpstream: bytes) -> None:
        channel = self.channel
        down = channel.transport
        up = upstream.transport
        request = self

        def toUpstream(data: bytes) -> None:
            request._tunnelBytes += len(data)
            up.write(data)

        def toClient(data: bytes) -> None:
            request._tunnelBytes += len(data)
            down.write(data)

        def clientLost(reason: Failure) -> None:
            if up.producer is not None:
                up.unregisterProducer()
            up.loseConnection()

        def upstreamLost(reason: Failure) -> None:
            if down.producer is not None:
                down.unregisterProducer()
            down.loseConnection()

        fromClient = channel._takeOver(toUpstream, clientLost)
        upstream._tunnel = toClient
        upstream._onLost = upstreamLost
        down.registerProducer(up, True)
        up.registerProducer(down, True)
        if fromClient:
            toUpstream(fromClient)
        if fromUpstream:
            toClient(fromUpstream)
