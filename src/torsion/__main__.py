"""Command line: ``python -m torsion <command>`` (also the ``torsion`` script).

Commands:
    echo    run a TCP echo server (``--listen HOST:PORT``, default 127.0.0.1:8080)
    proxy   run the HTTP proxy (see ``torsion proxy --help`` and docs/proxy.md)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _echo(args: argparse.Namespace) -> int:
    from torsion.internet import protocol
    from torsion.internet.asyncioreactor import AsyncioReactor

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    host, _, port = args.listen.rpartition(":")
    reactor = AsyncioReactor()
    listening = reactor.listenTCP(int(port), protocol.Factory.forProtocol(Echo), interface=host)
    address = listening.getHost()
    print(f"torsion echo server listening on {address.host}:{address.port}", flush=True)
    print(f"try: printf 'hello\\n' | nc {address.host} {address.port}", flush=True)
    reactor.run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``torsion`` command."""
    parser = argparse.ArgumentParser(prog="torsion", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    echo = sub.add_parser("echo", help="run a TCP echo server")
    echo.add_argument("--listen", default="127.0.0.1:8080", help="HOST:PORT to listen on")
    echo.set_defaults(func=_echo)
    from torsion._proxycli import addProxyCommand

    addProxyCommand(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
