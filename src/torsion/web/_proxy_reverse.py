"""The reverse proxy: ``ReverseProxyRequest`` and ``ReverseProxy``.

Every request goes to the one upstream named by the factory (``host``,
``port``, optional ``path`` prefix), over the same pooled, streaming
machinery as the forward proxy.
"""

from __future__ import annotations

from typing import Any

from torsion.web._channel import HTTPChannel
from torsion.web._proxy_client import ProxyClientFactory
from torsion.web._proxy_pool import ConnectionPool
from torsion.web._proxy_request import _DEFAULT_POLICY, Proxy, ProxyRequest
from torsion.web._proxy_rewrite import ProxyPolicy, Target, hostBytes
from torsion.web._request import _QUEUED_SENTINEL

__all__ = ["ReverseProxy", "ReverseProxyRequest"]


class ReverseProxyRequest(ProxyRequest):
    """A request to a reverse proxy: always forwarded to ``factory.host:port``.

    Twisted: ``twisted.web.proxy.ReverseProxyRequest``.  As in Twisted the
    ``Host`` header is set to the upstream host.  When the policy's
    ``forwardedFor`` is set (the CLI's reverse mode does), ``X-Forwarded-For``
    and ``Forwarded`` carry the client address.  ``factory.path`` (torsion
    only) is an optional path prefix.
    """

    proxyClientFactoryClass: Any = ProxyClientFactory
    factory: Any

    def __init__(self, channel: Any, queued: Any = _QUEUED_SENTINEL, reactor: Any = None) -> None:
        super().__init__(channel, queued, reactor)
        self.factory = getattr(channel, "factory", None)

    def process(self) -> None:
        policy = self._policy()
        if not self._checkAccess(policy):
            return
        if self.method == b"CONNECT" or not self.uri.startswith(b"/"):
            self._refuse(400, "a reverse proxy takes origin-form requests only")
            return
        factory = self.factory
        host = factory.host
        port = int(factory.port)
        prefix = getattr(factory, "path", b"") or b""
        if isinstance(prefix, str):
            prefix = prefix.encode("ascii")
        target = Target(b"http", host, port, prefix.rstrip(b"/") + self.uri)
        hostHeader = hostBytes(host if port == 80 else f"{host}:{port}")
        extra: list[tuple[bytes, bytes]] = []
        if policy.forwardedFor:
            extra = self._forwardedHeaders()
        self.protocols = {b"http": self.proxyClientFactoryClass}
        self._forward(target, hostHeader, extra, policy)

    def _forwardedHeaders(self) -> list[tuple[bytes, bytes]]:
        raw = self.requestHeaders._rawHeaders
        addr = self.getClientAddress()
        ip = str(getattr(addr, "host", "unknown"))
        previous = raw.pop(b"x-forwarded-for", None)
        xff = b", ".join([*(previous or []), ip.encode("ascii")])
        node = f'"[{ip}]"' if ":" in ip else ip
        fwd = f"for={node};proto=http".encode("ascii")
        host = raw.get(b"host")
        if host and b'"' not in host[-1] and b";" not in host[-1]:
            fwd += b';host="' + host[-1] + b'"'
        old = raw.pop(b"forwarded", None)
        forwarded = b", ".join([*(old or []), fwd])
        return [(b"X-Forwarded-For", xff), (b"Forwarded", forwarded)]


class ReverseProxy(HTTPChannel):
    """A reverse-proxy connection. Twisted: ``twisted.web.proxy.ReverseProxy``.

    The factory must have ``host`` and ``port`` attributes (as in Twisted).
    """

    requestFactory: Any = ReverseProxyRequest
    policy: ProxyPolicy = _DEFAULT_POLICY
    _policy: ProxyPolicy | None = None
    _pool: ConnectionPool | None = None
    _clientAllowed = True

    connectionMade = Proxy.connectionMade
