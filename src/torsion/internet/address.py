"""Address objects: what ``getPeer()``, ``getHost()`` and ``buildProtocol`` see.

Twisted: ``twisted.internet.address``.  The classes are frozen dataclasses,
so they compare by value, hash, and print as Twisted's do, e.g.
``IPv4Address(type='TCP', host='127.0.0.1', port=8080)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

__all__ = ["HostnameAddress", "IPv4Address", "IPv6Address", "UNIXAddress", "fromSockname"]

AddressType = Literal["TCP", "UDP"]


@dataclass(frozen=True)
class IPv4Address:
    """An IPv4 socket endpoint. Twisted: ``address.IPv4Address``."""

    type: AddressType
    host: str
    port: int


@dataclass(frozen=True)
class IPv6Address:
    """An IPv6 socket endpoint. Twisted: ``address.IPv6Address``."""

    type: AddressType
    host: str
    port: int
    flowInfo: int = 0
    scopeID: int | str = 0


@dataclass(frozen=True)
class HostnameAddress:
    """A host name and port, before resolution. Twisted: ``address.HostnameAddress``."""

    hostname: bytes
    port: int


@dataclass(frozen=True, eq=False)
class UNIXAddress:
    """A UNIX socket path (None for an unbound socket). Twisted: ``address.UNIXAddress``.

    Two addresses are equal when their paths are equal or name the same file.
    """

    name: str | bytes | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UNIXAddress):
            return NotImplemented
        if self.name == other.name:
            return True
        if self.name is None or other.name is None:
            return False
        try:
            return os.path.samefile(self.name, other.name)
        except OSError:
            return False

    def __hash__(self) -> int:
        if self.name is None:
            return hash((UNIXAddress, None))
        try:
            st = os.stat(self.name)
            return hash((UNIXAddress, st.st_ino, st.st_dev))
        except OSError:
            return hash((UNIXAddress, self.name))


IPAddress = IPv4Address | IPv6Address


def fromSockname(sockname: object, kind: AddressType = "TCP") -> IPAddress:
    """Build an address object from a socket's ``getsockname()``/``getpeername()``."""
    if isinstance(sockname, tuple):
        if len(sockname) == 4:
            host, port, flow, scope = sockname
            return IPv6Address(kind, host, port, flow, scope)
        host, port = sockname[0], sockname[1]
        if ":" in host:
            return IPv6Address(kind, host, port)
        return IPv4Address(kind, host, port)
    raise ValueError(f"not an IP socket address: {sockname!r}")
