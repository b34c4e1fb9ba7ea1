"""``torsion proxy``: the command-line HTTP proxy (forward with CONNECT, or reverse).

Options mirror docs/proxy.md.  ``--workers N`` forks N processes that each
listen on the same port with SO_REUSEPORT; SIGTERM (or SIGINT) makes every
process stop accepting, finish the requests in flight (up to a bound), close
idle connections and exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, TextIO
from urllib.parse import urlsplit

from torsion.internet.endpoints import serverFromString
from torsion.internet.error import CannotListenError
from torsion.python.failure import Failure
from torsion.web import http
from torsion.web.proxy import Proxy, ProxyPolicy, ReverseProxy

__all__ = ["addProxyCommand", "listen", "runProxy"]

DRAIN_SECONDS = 30.0


class _ReusePortReactor:
    """Passes everything to ``reactor`` but listens on TCP with SO_REUSEPORT.

    Lets an endpoint built by ``serverFromString`` share its port between the
    ``--workers`` processes.
    """

    def __init__(self, reactor: Any) -> None:
        self._reactor = reactor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reactor, name)

    def listenTCP(self, port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        from torsion.internet import tcp

        p = tcp.Port(port, factory, backlog, interface, self._reactor)
        p.reusePort = True
        p.startListening()
        return p


def listen(reactor: Any, description: str, factory: Any, reusePort: bool) -> Any:
    """Listen on the endpoint ``description`` (e.g. ``tcp:8080:interface=127.0.0.1``).

    Returns:
        The listening port.

    Raises:
        ValueError: for a malformed description.
        CannotListenError: if the address cannot be bound.
    """
    endpoint = serverFromString(_ReusePortReactor(reactor) if reusePort else reactor, description)
    outcome: list[Any] = []
    endpoint.listen(factory).addBoth(outcome.append)
    result = outcome[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


class _Tracked:
    """Mixin: the factory knows its open channels (for draining)."""

    def connectionMade(self) -> None:
        super().connectionMade()  # type: ignore[misc]
        self.factory.channels.add(self)  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any = None) -> None:
        self.factory.channels.discard(self)  # type: ignore[attr-defined]
        super().connectionLost(reason)  # type: ignore[misc]


class _TrackedProxy(_Tracked, Proxy):
    pass


class _TrackedReverseProxy(_Tracked, ReverseProxy):
    pass


class _ProxyFactory(http.HTTPFactory):
    def __init__(self, policy: ProxyPolicy, reactor: Any, reverse: str | None) -> None:
        super().__init__(reactor=reactor)
        self.proxyPolicy = policy
        self.channels: set[Any] = set()
        self.protocol = _TrackedProxy
        if reverse:
            parts = urlsplit(reverse)
            if parts.scheme != "http" or not parts.hostname:
                raise ValueError(f"--reverse needs http://HOST[:PORT][/PATH], not {reverse!r}")
            self.protocol = _TrackedReverseProxy
            self.host = parts.hostname
            self.port = parts.port or 80
            self.path = parts.path.encode("ascii")


def _readCredentials(path: str) -> dict[str, str]:
    creds = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, password = line.partition(":")
            if not sep or not user:
                raise ValueError(f"{path}:{number}: expected user:password")
            creds[user] = password
    if not creds:
        raise ValueError(f"{path}: no credentials")
    return creds


def _policy(args: argparse.Namespace, log: TextIO | None) -> ProxyPolicy:
    ports = frozenset(int(p) for p in args.connect_ports.split(",") if p.strip())
    accessLog = None
    if log is not None:

        def accessLog(line: str) -> None:
            log.write(line + "\n")
            log.flush()

    return ProxyPolicy(
        allow=tuple(args.allow or ("127.0.0.0/8", "::1/128")),
        credentials=_readCredentials(args.auth_file) if args.auth_file else None,
        connectPorts=ports,
        denyPrivate=args.deny_private,
        upstreamTimeout=args.upstream_timeout,
        forwardedFor=bool(args.reverse),
        accessLog=accessLog,
    )


def _serve(args: argparse.Namespace, reusePort: bool, announce: bool) -> int:
    from torsion.internet.asyncioreactor import AsyncioReactor

    log: TextIO | None = None
    if args.access_log == "-":
        log = sys.stdout
    elif args.access_log:
        log = open(args.access_log, "a", encoding="utf-8")  # noqa: SIM115
    reactor = AsyncioReactor()
    factory = _ProxyFactory(_policy(args, log), reactor, args.reverse)
    try:
        port = listen(reactor, args.listen, factory, reusePort)
    except CannotListenError as e:
        print(f"torsion proxy: {e}", file=sys.stderr)
        if log is not None and log is not sys.stdout:
            log.close()
        return 2
    address = port.getHost()
    if announce:
        mode = f"reverse proxy to {args.reverse}" if args.reverse else "forward proxy"
        print(f"torsion {mode} listening on {address.host}:{address.port}", flush=True)
    draining: list[bool] = []

    def drain() -> None:
        if draining:
            return
        draining.append(True)
        port.stopListening()
        deadline = reactor.seconds() + DRAIN_SECONDS

        def check() -> None:
            for channel in list(factory.channels):
                if not channel.requests and channel._rawReceiver is None:
                    channel.loseConnection()
            if factory.channels and reactor.seconds() < deadline:
                reactor.callLater(0.05, check)
                return
            pool = getattr(factory, "_proxyPool", None)
            if pool is not None:
                pool.closeAll()
            reactor.callLater(0.05, reactor.stop)

        check()

    loop = reactor.loop
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, drain)
    try:
        reactor.run(installSignalHandlers=False)
    finally:
        if log is not None and log is not sys.stdout:
            log.close()
    return 0


def runProxy(args: argparse.Namespace) -> int:
    """Run the proxy (``args`` from :func:`addProxyCommand`'s parser)."""
    try:
        serverFromString(None, args.listen)
        _policy(args, None)
        if args.reverse:
            _ProxyFactory(ProxyPolicy(), None, args.reverse)
    except (ValueError, OSError) as e:
        print(f"torsion proxy: {e}", file=sys.stderr)
        return 2
    workers = max(1, args.workers)
    if workers == 1:
        return _serve(args, False, True)
    children = []
    for index in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _serve(args, True, index == 0)
            finally:
                os._exit(code)
        children.append(pid)

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    for child in children:
        while True:
            try:
                _, code = os.waitpid(child, 0)
                break
            except InterruptedError:
                continue
        status = status or os.waitstatus_to_exitcode(code)
    return status


def addProxyCommand(sub: Any) -> None:
    """Register ``proxy`` on an argparse subparsers object."""
    p = sub.add_parser("proxy", help="run the HTTP proxy (forward with CONNECT, or reverse)")
    p.add_argument(
        "--listen",
        default="tcp:8080:interface=127.0.0.1",
        help="endpoint to listen on (default tcp:8080:interface=127.0.0.1)",
    )
    p.add_argument(
        "--allow",
        action="append",
        metavar="CIDR",
        help="client network allowed (repeatable; default loopback only)",
    )
    p.add_argument("--auth-file", metavar="F", help="user:password lines; enables 407 Basic auth")
    p.add_argument(
        "--connect-ports",
        default="443",
        metavar="443,...",
        help="ports CONNECT may reach (default 443)",
    )
    p.add_argument("--reverse", metavar="URL", help="reverse-proxy every request to this URL")
    p.add_argument(
        "--upstream-timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="upstream connect/read timeout in seconds (504 after it)",
    )
    p.add_argument("--access-log", metavar="PATH|-", help="append access log lines (- for stdout)")
    p.add_argument(
        "--deny-private",
        action="store_true",
        help="refuse loopback, private and link-local destinations",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="processes sharing the port via SO_REUSEPORT",
    )
    p.set_defaults(func=runProxy)
