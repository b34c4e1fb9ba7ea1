"""Host name resolution for client endpoints.

Twisted resolves through ``reactor.nameResolver`` (an ``IHostnameResolver``)
and falls back to ``getaddrinfo`` in a thread.  torsion does the same, with
one more source in between: on an asyncio reactor the lookup is the event
loop's ``getaddrinfo`` (cancellable, no thread of ours).

Order of preference:

1. ``reactor.nameResolver.resolveHostName(receiver, host, portNumber=port)``
   when the reactor has a ``nameResolver`` (Twisted's interface; tests use
   it to supply fixed answers);
2. ``reactor.loop.getaddrinfo`` when the reactor runs on an asyncio loop;
3. ``socket.getaddrinfo`` in the reactor's thread pool
   (``callInThread``/``callFromThread``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from typing import Any

from torsion.internet import error
from torsion.internet._defer import Deferred
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.python.failure import Failure

__all__ = ["TCPAddress", "resolveTCP"]

TCPAddress = IPv4Address | IPv6Address

_GAIResult = Sequence[tuple[Any, Any, Any, Any, Any]]


def _toAddresses(infos: _GAIResult, family: int) -> list[TCPAddress]:
    out: list[TCPAddress] = []
    for fam, _type, _proto, _canon, sockaddr in infos:
        if fam == socket.AF_INET6 and family in (socket.AF_UNSPEC, socket.AF_INET6):
            out.append(IPv6Address("TCP", sockaddr[0], sockaddr[1], sockaddr[2], sockaddr[3]))
        elif fam == socket.AF_INET and family in (socket.AF_UNSPEC, socket.AF_INET):
            out.append(IPv4Address("TCP", sockaddr[0], sockaddr[1]))
    return out


def _familyOf(address: object) -> int:
    if isinstance(address, IPv6Address):
        return socket.AF_INET6
    if isinstance(address, IPv4Address):
        return socket.AF_INET
    return -1


def _families(family: int) -> tuple[int, ...]:
    if family == socket.AF_UNSPEC:
        return (socket.AF_INET, socket.AF_INET6)
    return (family,)


def _lookupError(host: str, e: BaseException) -> error.DNSLookupError:
    return error.DNSLookupError(f"address {host!r} not found: {e}")


def resolveTCP(
    reactor: Any, host: str, port: int, family: int = socket.AF_UNSPEC
) -> Deferred[list[TCPAddress]]:
    """Resolve ``host`` to the TCP addresses to try, in the resolver's order.

    Args:
        reactor: the reactor (see the module docstring for what it may offer).
        host: a host name or address literal.
        port: the port to put in each address.
        family: ``AF_UNSPEC`` for both families, or ``AF_INET``/``AF_INET6``.

    Returns:
        A Deferred firing with a (possibly empty) list of addresses, or
        failing with ``DNSLookupError``.  Cancelling it abandons the lookup.
    """
    nameResolver = getattr(reactor, "nameResolver", None)
    if nameResolver is not None:
        return _viaNameResolver(nameResolver, host, port, family)
    loop = getattr(reactor, "loop", None)
    if isinstance(loop, asyncio.AbstractEventLoop):
        return _viaLoop(reactor, loop, host, port, family)
    if hasattr(reactor, "callInThread") and hasattr(reactor, "callFromThread"):
        return _viaThread(reactor, host, port, family)
    d: Deferred[list[TCPAddress]] = Deferred()
    d.errback(
        error.DNSLookupError(
            f"cannot resolve {host!r}: {reactor!r} has no nameResolver, event loop or threads"
        )
    )
    return d


class _Receiver:
    """An ``IResolutionReceiver`` that collects addresses."""

    def __init__(self, done: Callable[[list[Any]], None]) -> None:
        self.addresses: list[Any] = []
        self._done = done

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self._done(self.addresses)


def _viaNameResolver(
    nameResolver: Any, host: str, port: int, family: int
) -> Deferred[list[TCPAddress]]:
    d: Deferred[list[TCPAddress]] = Deferred()

    def done(addresses: list[Any]) -> None:
        if d.called:  # cancelled meanwhile
            return
        d.callback([a for a in addresses if _familyOf(a) in _families(family)])

    try:
        nameResolver.resolveHostName(_Receiver(done), host, portNumber=port)
    except Exception as e:
        if not d.called:
            d.errback(Failure(_lookupError(host, e)))
    return d


def _viaLoop(
    reactor: Any, loop: asyncio.AbstractEventLoop, host: str, port: int, family: int
) -> Deferred[list[TCPAddress]]:
    async def lookup() -> list[TCPAddress]:
        try:
            infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            raise _lookupError(host, e) from None
        return _toAddresses(infos, family)

    task = asyncio.ensure_future(lookup(), loop=loop)

    def cancel(_: Deferred[Any]) -> None:
        task.cancel()

    d: Deferred[list[TCPAddress]] = Deferred(cancel)

    def fire(t: asyncio.Future[list[TCPAddress]]) -> None:
        if t.cancelled() or d.called:
            return
        exc = t.exception()
        if exc is not None:
            d.errback(Failure(exc))
        else:
            d.callback(t.result())

    dispatch = getattr(reactor, "_dispatch", None)
    if dispatch is not None:
        task.add_done_callback(lambda t: dispatch(fire, t))
    else:
        task.add_done_callback(fire)
    return d


def _viaThread(reactor: Any, host: str, port: int, family: int) -> Deferred[list[TCPAddress]]:
    d: Deferred[list[TCPAddress]] = Deferred()

    def deliver(result: list[TCPAddress] | Failure) -> None:
        if d.called:
            return
        if isinstance(result, Failure):
            d.errback(result)
        else:
            d.callback(result)

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
            result: list[TCPAddress] | Failure = _toAddresses(infos, family)
        except (OSError, UnicodeError) as e:
            result = Failure(_lookupError(host, e))
        reactor.callFromThread(deliver, result)

    reactor.callInThread(lookup)
    return d
