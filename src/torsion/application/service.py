"""The service hierarchy. Twisted: ``twisted.application.service``.

A *service* is something that is started and stopped: ``startService()``,
``stopService()`` (which may return a Deferred that fires once it has
stopped), a ``running`` flag, an optional ``name`` and a ``parent``.  A
:class:`MultiService` holds child services and starts and stops them with
itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from torsion.internet._defer import Deferred, maybeDeferred
from torsion.python import log
from torsion.python.failure import Failure

__all__ = ["IService", "IServiceCollection", "MultiService", "Service"]


class IService(Protocol):
    """A service. Twisted: ``twisted.application.service.IService``."""

    name: str | None
    running: int | bool
    parent: Any

    def setName(self, name: str) -> None: ...
    def setServiceParent(self, parent: Any) -> None: ...
    def disownServiceParent(self) -> Any: ...
    def privilegedStartService(self) -> None: ...
    def startService(self) -> None: ...
    def stopService(self) -> Any: ...


class IServiceCollection(Protocol):
    """A container of services. Twisted: ``service.IServiceCollection``."""

    def getServiceNamed(self, name: str) -> Any: ...
    def __iter__(self) -> Iterator[Any]: ...
    def addService(self, service: Any) -> None: ...
    def removeService(self, service: Any) -> Any: ...


class Service:
    """Base class of services: the start/stop bookkeeping.

    Twisted: ``twisted.application.service.Service``.

    Attributes:
        running: 1 between :meth:`startService` and :meth:`stopService`.
        name: the name under which the parent finds it, or None.
        parent: the :class:`MultiService` holding it, or None.
    """

    running = 0
    name: str | None = None
    parent: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Everything but ``running`` (an unpickled service is not running)."""
        state = self.__dict__.copy()
        state.pop("running", None)
        return state

    def setName(self, name: str) -> None:
        """Set the name. Twisted: ``Service.setName``.

        Raises:
            RuntimeError: the service already has a parent.
        """
        if self.parent is not None:
            raise RuntimeError("cannot change name when parent exists")
        self.name = name

    def setServiceParent(self, parent: Any) -> None:
        """Add this service to ``parent`` (leaving any previous parent).

        Twisted: ``Service.setServiceParent``.
        """
        if self.parent is not None:
            self.disownServiceParent()
        self.parent = parent
        self.parent.addService(self)

    def disownServiceParent(self) -> Any:
        """Leave the parent; returns what its ``removeService`` returns.

        Twisted: ``Service.disownServiceParent``.
        """
        d = self.parent.removeService(self)
        self.parent = None
        return d

    def privilegedStartService(self) -> None:
        """Hook run before privileges are dropped. Twisted: ``privilegedStartService``."""

    def startService(self) -> None:
        """Mark the service running. Twisted: ``Service.startService``."""
        self.running = 1

    def stopService(self) -> Any:
        """Mark the service stopped. Twisted: ``Service.stopService``."""
        self.running = 0
        return None


def _gather(deferreds: list[Deferred[Any]]) -> Deferred[list[tuple[bool, Any]]]:
    """Fire with ``[(succeeded, result), ...]`` once every Deferred has fired.

    The result list has the shape of Twisted's ``DeferredList``; failures are
    logged here rather than left unhandled.
    """
    results: list[tuple[bool, Any] | None] = [None] * len(deferreds)
    done: Deferred[list[tuple[bool, Any]]] = Deferred()
    remaining = [len(deferreds)]

    def settle(result: Any, index: int) -> None:
        if isinstance(result, Failure):
            log.err(result, "Error stopping a service")
            results[index] = (False, result)
        else:
            results[index] = (True, result)
        remaining[0] -= 1
        if not remaining[0]:
            done.callback([r for r in results if r is not None])

    for index, d in enumerate(deferreds):
        d.addBoth(settle, index)
    if not deferreds:
        done.callback([])
    return done


class MultiService(Service):
    """A service that starts and stops its children with itself.

    Twisted: ``twisted.application.service.MultiService``.  Children start in
    the order they were added and stop in reverse order; :meth:`stopService`
    waits for all of them.
    """

    def __init__(self) -> None:
        self.services: list[Any] = []
        self.namedServices: dict[str, Any] = {}
        self.parent = None

    def privilegedStartService(self) -> None:
        Service.privilegedStartService(self)
        for service in self:
            service.privilegedStartService()

    def startService(self) -> None:
        Service.startService(self)
        for service in self:
            service.startService()

    def stopService(self) -> Deferred[list[tuple[bool, Any]]]:
        """Stop every child, last added first.

        Returns:
            A Deferred firing with ``[(succeeded, result), ...]`` (as a
            ``DeferredList``) once every child has stopped.
        """
        Service.stopService(self)
        return _gather([maybeDeferred(s.stopService) for s in reversed(self.services)])

    def getServiceNamed(self, name: str) -> Any:
        """The child called ``name``; ``KeyError`` if none."""
        return self.namedServices[name]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.services)

    def addService(self, service: Any) -> None:
        """Add a child (use ``service.setServiceParent(self)``); start it if running.

        Raises:
            RuntimeError: a child of the same name exists.
        """
        if service.name is not None:
            if service.name in self.namedServices:
                raise RuntimeError(f"cannot have two services with same name '{service.name}'")
            self.namedServices[service.name] = service
        self.services.append(service)
        if self.running:
            service.privilegedStartService()
            service.startService()

    def removeService(self, service: Any) -> Any:
        """Remove a child; stop it if running and return what its stopService returns.

        Raises:
            ValueError: ``service`` is not a child.
        """
        if service.name:
            del self.namedServices[service.name]
        self.services.remove(service)
        if self.running:
            return service.stopService()
        return None
