"""``ReverseProxyResource``: Twisted's resource that forwards a URL subtree."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlparse

from torsion.web._proxy_client import ProxyClientFactory
from torsion.web.resource import Resource
from torsion.web.server import NOT_DONE_YET

__all__ = ["ReverseProxyResource"]


class ReverseProxyResource(Resource):
    """Forwards every request under it to ``host:port`` + ``path``.

    Twisted: ``twisted.web.proxy.ReverseProxyResource``.  Mount it in a
    :class:`torsion.web.server.Site`.  As in Twisted, the body is read whole
    from ``request.content`` and one upstream connection is made per
    request; ``Host`` is set to ``host`` (with ``:port`` unless 80).  A
    failed connection answers 502 (Twisted: 501).

    Args:
        host: upstream host.
        port: upstream port.
        path: upstream path prefix (bytes).
        reactor: the reactor to connect with (the global one if None).
    """

    proxyClientFactoryClass: Any = ProxyClientFactory

    def __init__(self, host: str, port: int, path: bytes, reactor: Any = None) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.path = path
        self.reactor = reactor

    def getChild(self, path: bytes, request: Any) -> ReverseProxyResource:
        """A resource for ``self.path/path`` (the segment URL-quoted)."""
        return ReverseProxyResource(
            self.host,
            self.port,
            self.path + b"/" + quote(path, safe=b"").encode("utf-8"),
            self.reactor,
        )

    def render(self, request: Any) -> int:
        """Send the request upstream; the response is relayed later."""
        if self.port == 80:
            host = self.host.encode("ascii")
        else:
            host = b"%s:%d" % (self.host.encode("ascii"), self.port)
        request.requestHeaders.setRawHeaders(b"host", [host])
        request.content.seek(0, 0)
        qs = urlparse(request.uri)[4]
        rest = self.path + (b"?" + qs if qs else b"")
        headers = request.getAllHeaders()
        factory = self.proxyClientFactoryClass(
            request.method, rest, request.clientproto, headers, request.content.read(), request
        )
        reactor = self.reactor
        if reactor is None:
            from torsion.internet import reactor
        reactor.connectTCP(self.host, self.port, factory)
        return NOT_DONE_YET
