"""Twisted's classic "simpleproxy" program, with its imports renamed to torsion.

From "Twisted Network Programming Essentials".  The only changes:
``twisted`` -> ``torsion``, the port from the command line, and listening on
127.0.0.1 (the original binds every interface).

Usage: python examples/simpleproxy.py [PORT]   (default 8080)
"""

import sys

from torsion.internet import reactor
from torsion.python import log
from torsion.web import http, proxy

log.startLogging(sys.stdout)


class ProxyFactory(http.HTTPFactory):
    protocol = proxy.Proxy


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
reactor.listenTCP(port, ProxyFactory(), interface="127.0.0.1")
reactor.run()
