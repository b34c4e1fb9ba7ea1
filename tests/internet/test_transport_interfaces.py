"""The reactor and transports have the methods of Twisted's interfaces, with
Twisted's parameter names."""

from __future__ import annotations

import inspect

import pytest

from torsion.internet import interfaces, process, udp, unix
from torsion.internet._stream import Connection
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.internet.testing import MemoryReactor

CHECKS = [
    (interfaces.IReactorSSL, AsyncioReactor),
    (interfaces.IReactorUNIX, AsyncioReactor),
    (interfaces.IReactorUNIXDatagram, AsyncioReactor),
    (interfaces.IReactorUDP, AsyncioReactor),
    (interfaces.IReactorMulticast, AsyncioReactor),
    (interfaces.IReactorProcess, AsyncioReactor),
    (interfaces.IReactorSSL, MemoryReactor),
    (interfaces.IReactorUNIX, MemoryReactor),
    (interfaces.IReactorUNIXDatagram, MemoryReactor),
    (interfaces.IReactorUDP, MemoryReactor),
    (interfaces.IReactorMulticast, MemoryReactor),
    (interfaces.IReactorProcess, MemoryReactor),
    (interfaces.ITLSTransport, Connection),
    (interfaces.ISSLTransport, Connection),
    (interfaces.IUDPTransport, udp.Port),
    (interfaces.IMulticastTransport, udp.MulticastPort),
    (interfaces.IProcessTransport, process.Process),
    (interfaces.IUDPTransport, unix.DatagramPort),
]


MINE = {interface.__name__ for interface, _ in CHECKS}


def ownMethods(interface: type) -> list[str]:
    """The methods declared by the interfaces of this area (not ITransport's)."""
    names = []
    for klass in interface.__mro__:
        if klass.__name__ in MINE:
            names += [n for n, v in vars(klass).items() if callable(v) and not n.startswith("_")]
    return sorted(set(names))


@pytest.mark.parametrize(("interface", "implementation"), CHECKS)
def test_methods_and_parameter_names(interface: type, implementation: type) -> None:
    """Each interface method exists with the interface's parameter names, in order."""
    for name in ownMethods(interface):
        method = getattr(implementation, name, None)
        assert method is not None, f"{implementation.__name__}.{name} is missing"
        expected = list(inspect.signature(getattr(interface, name)).parameters)
        actual = list(inspect.signature(method).parameters)
        assert actual[: len(expected)] == expected, f"{implementation.__name__}.{name}"
