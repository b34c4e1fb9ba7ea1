"""The client side of the proxy: ``ProxyRequest``, ``Proxy`` and the reverse variants.

A :class:`ProxyRequest` is processed as soon as its headers are in (before
its body): the policy is checked, the target parsed and rewritten (sans-IO,
:mod:`torsion.web._proxy_rewrite`), and the request goes upstream on a
pooled connection while its body is still arriving.  Request bodies are
streamed with backpressure: when the upstream socket is full, the channel
stops reading the client.  CONNECT and accepted ``Upgrade`` requests become
two-way tunnels in which each transport is the other's producer.
"""

from __future__ import annotations

from typing import Any

from torsion.python import log
from torsion.python.failure import Failure
from torsion.web._channel import HTTPChannel
from torsion.web._channelflow import _BODY
from torsion.web._parser import HTTPParseError
from torsion.web._proxy_client import ProxyClientFactory
from torsion.web._proxy_pool import ConnectionPool
from torsion.web._proxy_rewrite import ProxyPolicy, Target, parseTarget, requestHead
from torsion.web._proxy_tunnel import TunnelMixin
from torsion.web._request import _QUEUED_SENTINEL, Request
from torsion.web._responses import RESPONSES

__all__ = ["Proxy", "ProxyRequest"]

_PENDING_LIMIT = 65536
_IDEMPOTENT = (b"GET", b"HEAD", b"OPTIONS")


class _BodyPump:
    """Producer registered on the upstream transport while a body streams up.

    When the upstream socket is full the client is no longer read.
    """

    __slots__ = ("channel",)

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def pauseProducing(self) -> None:
        self.channel._pauseReading(_BODY)

    def resumeProducing(self) -> None:
        self.channel._resumeReading(_BODY)

    def stopProducing(self) -> None:
        """The upstream connection ended; the request handles it."""


class ProxyRequest(TunnelMixin, Request):
    """A request to a forward proxy (absolute-form URL or CONNECT).

    Twisted: ``twisted.web.proxy.ProxyRequest``.  ``protocols`` maps a URL
    scheme to the client factory class and ``ports`` to its default port,
    as in Twisted.  Differences: ``process()`` runs when the headers arrive
    and the body is streamed upstream (``content`` stays None); the policy
    of the channel (:class:`ProxyPolicy`) is enforced; CONNECT is supported;
    failures answer 502/504 with a short text body.
    """

    protocols: dict[bytes, Any] = {b"http": ProxyClientFactory}
    ports: dict[bytes, int] = {b"http": 80}
    _streamBody = True
    _client: Any = None
    _connector: Any = None
    _pending: list[bytes] | None = None
    _pendingSize = 0
    _bodyDone = False
    _upstreamBodyDone = True
    _bodyChunked = False
    _retried = False
    _logged = False
    _route: tuple[Target, bytes] | None = None
    _via: bytes | None = None
    reactor: Any = None
    _tunnelBytes = 0

    def __init__(self, channel: Any, queued: Any = _QUEUED_SENTINEL, reactor: Any = None) -> None:
        Request.__init__(self, channel, queued)  # (as Twisted's ProxyRequest does)
        if reactor is not None:
            self.reactor = reactor
        # (Few instance defaults: see Request.__init__ on the attribute count.)
        self._client = None
        self._bodyDone = False
        self._logged = False
        # The channel stamped this moment when the request's bytes arrived.
        self._startTime = channel._lastActivity if channel is not None else 0.0

    # -- policy -----------------------------------------------------------------------

    def _policy(self) -> ProxyPolicy:
        channel = self.channel
        policy = getattr(channel, "_policy", None)
        return policy if policy is not None else _DEFAULT_POLICY

    def _getReactor(self) -> Any:
        if self.reactor is None:
            clock = getattr(self.channel, "_clock", None)
            if clock is not None and hasattr(clock, "connectTCP"):
                self.reactor = clock
            else:
                from torsion.internet import reactor

                self.reactor = reactor
        return self.reactor

    def _getPool(self) -> ConnectionPool:
        channel = self.channel
        pool = getattr(channel, "_pool", None)
        if pool is None:
            policy = self._policy()
            pool = ConnectionPool(
                self._getReactor(),
                policy.upstreamTimeout,
                policy.maxIdlePerHost,
                policy.idleTimeout,
            )
            channel._pool = pool
        return pool

    def _checkAccess(self, policy: ProxyPolicy) -> bool:
        """Client allow list and credentials; answers 403/407 and returns False."""
        if not getattr(self.channel, "_clientAllowed", True):
            self._persistent = False
            self._refuse(403, "client address not allowed")
            return False
        if policy.credentials is not None:
            values = self.requestHeaders._rawHeaders.get(b"proxy-authorization")
            if not policy.authorized(values[-1] if values else None):
                realm = policy.realm.replace('"', "")
                self._refuse(
                    407,
                    "proxy authentication required",
                    [(b"proxy-authenticate", f'Basic realm="{realm}"'.encode())],
                )
                return False
        return True

    def _refuse(
        self, status: int, why: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Answer ``status`` with a one-line text body."""
        log.msg(f"proxy: {status} for {self.method!r} {self.uri!r}: {why}")
        if self.finished or self._disconnected:
            return
        if self.startedWriting:
            self._abort()
            return
        body = b"%d %s\n" % (status, RESPONSES.get(status, b"Error"))
        self.setResponseCode(status)
        raw = self.responseHeaders._rawHeaders = {
            b"content-type": [b"text/plain"],
            b"content-length": [b"%d" % len(body)],
        }
        for name, value in headers or ():
            raw[name] = [value]
        if self._pending is not None:
            self._pending = None
        self.write(body)
        self.finish()

    # -- processing -------------------------------------------------------------------

    def process(self) -> None:
        """Check the policy, parse the target and send the request upstream."""
        policy = self._policy()
        if not self._checkAccess(policy):
            return
        try:
            target = parseTarget(self.method, self.uri, self.ports)
        except HTTPParseError as e:
            self._refuse(e.status, e.reason)
            return
        if target.scheme == b"connect":
            self._startTunnel(target, policy)
            return
        self._forward(target, target.hostHeader, (), policy)

    def _forward(
        self,
        target: Target,
        hostHeader: bytes,
        extra: Any,
        policy: ProxyPolicy,
    ) -> None:
        raw = self.requestHeaders._rawHeaders
        length = self._length
        upgrade = None
        if self._upgrade:
            values = raw.get(b"upgrade")
            if values:
                upgrade = values[-1]
        self._via = policy.via
        self._bodyChunked = length is None
        self._upstreamBodyDone = length == 0
        head = requestHead(
            self.method, target.path, hostHeader, raw, length, policy.via, extra, upgrade
        )
        self._route = (target, head)  # for _retry
        factoryClass = self.protocols[target.scheme]
        key = (factoryClass, target.host, target.port)
        pool = self._getPool()
        client = pool.get(key) if upgrade is None else None
        if client is not None:
            client.father = self
            client.command = self.method
            client.rest = target.path
            client.headers = head
            client.data = b""
            client._start()
            return
        self._connect(factoryClass, key, target, head, pool, policy)

    def _connect(
        self,
        factoryClass: Any,
        key: Any,
        target: Target,
        head: bytes,
        pool: ConnectionPool,
        policy: Any,
    ) -> None:
        factory = factoryClass(self.method, target.path, self.clientproto, head, b"", self)
        factory.pool = pool
        factory.key = key
        self._dial(target.host, target.port, factory, policy)

    def _dial(self, host: str, port: int, factory: Any, policy: ProxyPolicy) -> None:
        reactor = self._getReactor()
        if not policy.denyPrivate:
            self._connector = reactor.connectTCP(host, port, factory, policy.upstreamTimeout)
            return

        def resolved(address: str) -> None:
            if self._disconnected or self.finished:
                return
            if not policy.destinationAllowed(address):
                self._refuse(403, f"destination {address} not allowed")
                return
            self._connector = reactor.connectTCP(address, port, factory, policy.upstreamTimeout)

        def failed(f: Failure) -> None:
            self._upstreamFailed(502, f"cannot resolve {host}: {f.getErrorMessage()}")

        reactor.resolve(host).addCallbacks(resolved, failed)

    def _retry(self) -> bool:
        """A reused connection died before answering: try once on a new one."""
        if self._retried or self.method not in _IDEMPOTENT or self._length != 0:
            return False
        if self._disconnected or self.finished or self._route is None:
            return False
        self._retried = True
        self._client = None
        target, head = self._route
        factoryClass = self.protocols[target.scheme]
        self._connect(
            factoryClass,
            (factoryClass, target.host, target.port),
            target,
            head,
            self._getPool(),
            self._policy(),
        )
        return True

    # -- request body ---------------------------------------------------------------------

    def _upstreamReady(self, client: Any) -> None:
        """The head went upstream on ``client``: stream the body after it."""
        if self._disconnected:
            client.father = None
            client._busy = False
            client.transport.abortConnection()
            return
        self._client = client
        pending = self._pending
        if pending:
            self._pending = None
            self._pendingSize = 0
            for chunk in pending:
                client.sendBody(chunk, self._bodyChunked)
            self.channel._resumeReading(_BODY)
        if not self._upstreamBodyDone:
            if self._bodyDone:
                self._finishBody()
            else:
                client.transport.registerProducer(_BodyPump(self.channel), True)

    def handleContentChunk(self, data: bytes) -> None:
        client = self._client
        if client is not None:
            client.sendBody(data, self._bodyChunked)
            return
        if self.finished:
            return
        if self._pending is None:
            self._pending = []
        self._pending.append(data)
        self._pendingSize += len(data)
        if self._pendingSize > _PENDING_LIMIT and self.channel is not None:
            self.channel._pauseReading(_BODY)

    def _streamEnded(self) -> None:
        self._bodyDone = True
        if self._client is not None and not self._upstreamBodyDone:
            self._client.transport.unregisterProducer()
            self._finishBody()

    def _finishBody(self) -> None:
        self._upstreamBodyDone = True
        if self._bodyChunked:
            self._client.transport.write(b"0\r\n\r\n")

    # -- failures and the end ---------------------------------------------------------------

    def _upstreamFailed(self, status: int, why: str) -> None:
        """The upstream could not be reached (502) or timed out (504)."""
        self._client = None
        if self._disconnected or self.finished:
            return
        if self.producer is not None:
            self.unregisterProducer()
        if self.channel is not None:
            self.channel._resumeReading(_BODY)
        self._persistent = self._persistent and self._bodyDone
        self._refuse(status, why)

    def _abort(self) -> None:
        """The response cannot be completed: close the client connection."""
        if self.channel is not None and not self._disconnected:
            self._persistent = False
            self.channel._closeAfterWrites()

    def finish(self) -> None:
        super().finish()
        self._logAccess()

    def connectionLost(self, reason: Failure) -> None:
        client = self._client
        self._client = None
        super().connectionLost(reason)
        if client is not None and client.father is self:
            client.father = None
            client._busy = False
            if client.transport is not None:
                client.transport.abortConnection()
        connector = self._connector
        if connector is not None and connector.state == "connecting":
            connector.stopConnecting()
        self._logAccess()

    def _logAccess(self) -> None:
        if self._logged:
            return
        self._logged = True
        sink = self._policy().accessLog
        if sink is None:
            return
        addr = self.getClientAddress()
        channel = self.channel
        now = channel._seconds() if channel is not None else self._startTime
        client = getattr(addr, "host", "-") if addr is not None else "-"
        status = self.code if self.startedWriting else "-"
        sent = self.sentLength + self._tunnelBytes
        ms = max(0.0, (now - self._startTime) * 1000)
        target = self.uri.decode("latin-1")
        sink(f"{client} {self.method.decode('latin-1')} {target} {status} {sent} {ms:.1f}ms")


_DEFAULT_POLICY = ProxyPolicy()


class Proxy(HTTPChannel):
    """A forward-proxy connection. Twisted: ``twisted.web.proxy.Proxy``.

    Use it as in Twisted: ``class ProxyFactory(http.HTTPFactory): protocol =
    proxy.Proxy``.  The policy comes from the factory's ``proxyPolicy``
    attribute when set, else :attr:`policy` (safe defaults: loopback
    clients only, CONNECT to 443 only).  Upstream connections are pooled per
    factory.
    """

    requestFactory: Any = ProxyRequest
    policy: ProxyPolicy = _DEFAULT_POLICY
    _policy: ProxyPolicy | None = None
    _pool: ConnectionPool | None = None
    _clientAllowed = True

    def connectionMade(self) -> None:
        super().connectionMade()
        factory = self.factory
        policy = getattr(factory, "proxyPolicy", None) or self.policy
        self._policy = policy
        if factory is not None:
            pool = getattr(factory, "_proxyPool", None)
            if pool is None:
                clock = self._clock
                if not hasattr(clock, "connectTCP"):
                    from torsion.internet import reactor as clock
                pool = ConnectionPool(
                    clock, policy.upstreamTimeout, policy.maxIdlePerHost, policy.idleTimeout
                )
                factory._proxyPool = pool
            self._pool = pool
        peer = self.transport.getPeer()
        self._clientAllowed = policy.clientAllowed(str(getattr(peer, "host", "")))
