"""HTTP proxies: Twisted's ``twisted.web.proxy``, plus what it lacks.

Forward proxy (absolute-form URLs and CONNECT tunnels) and reverse proxy,
with Twisted's class names so Twisted's classic example runs after renaming
imports::

    from torsion.internet import reactor
    from torsion.web import http, proxy

    class ProxyFactory(http.HTTPFactory):
        protocol = proxy.Proxy

    reactor.listenTCP(8080, ProxyFactory(), interface="127.0.0.1")
    reactor.run()

Beyond Twisted: HTTP/1.1 upstream with pooled keep-alive connections,
bodies streamed with backpressure both ways, hop-by-hop headers removed both
ways, ``Via``, ``X-Forwarded-For``/``Forwarded`` in reverse mode, WebSocket
``Upgrade`` pass-through, 502/504 answers, access log lines, and a
:class:`ProxyPolicy` with safe defaults (loopback clients only, optional
Basic proxy credentials, CONNECT to port 443 only, optional refusal of
private destinations).  See ``docs/proxy.md``.
"""

from torsion.web._proxy_client import ConnectionPool, ProxyClient, ProxyClientFactory
from torsion.web._proxy_request import Proxy, ProxyRequest
from torsion.web._proxy_resource import ReverseProxyResource
from torsion.web._proxy_reverse import ReverseProxy, ReverseProxyRequest
from torsion.web._proxy_rewrite import ProxyPolicy

__all__ = [
    "ConnectionPool",
    "Proxy",
    "ProxyClient",
    "ProxyClientFactory",
    "ProxyPolicy",
    "ProxyRequest",
    "ReverseProxy",
    "ReverseProxyRequest",
    "ReverseProxyResource",
]
