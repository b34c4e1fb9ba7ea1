"""Listening services from description strings. Twisted: ``twisted.application.strports``."""

from __future__ import annotations

from typing import Any

from torsion.application.internet import StreamServerEndpointService
from torsion.internet.endpoints import serverFromString

__all__ = ["service"]


def service(description: str, factory: Any, reactor: Any = None) -> StreamServerEndpointService:
    """A service listening on ``description`` (e.g. ``'tcp:8080'``) with ``factory``.

    Twisted: ``twisted.application.strports.service``.  A listen failure is
    raised from ``startService``/``privilegedStartService``.

    Raises:
        ValueError: the description is malformed (see ``serverFromString``).
    """
    if reactor is None:
        from torsion.internet import reactor as globalReactor

        reactor = globalReactor
    svc = StreamServerEndpointService(serverFromString(reactor, description), factory)
    svc._raiseSynchronously = True
    return svc
