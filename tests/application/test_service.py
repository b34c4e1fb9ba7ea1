"""Service, MultiService, endpoint/TCP services and strports.service."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from tests.internet.endpointhelpers import Echo, result
from tests.support import runUntil
from torsion.application import internet, service, strports
from torsion.internet import defer, endpoints, error, protocol
from torsion.internet.testing import MemoryReactor, RaisingMemoryReactor


class Recording(service.Service):
    def __init__(self, name: str | None, events: list[str], stopResult: Any = None) -> None:
        self.name = name
        self.events = events
        self.stopResult = stopResult

    def privilegedStartService(self) -> None:
        self.events.append(f"privileged {self.name}")

    def startService(self) -> None:
        super().startService()
        self.events.append(f"start {self.name}")

    def stopService(self) -> Any:
        super().stopService()
        self.events.append(f"stop {self.name}")
        return self.stopResult


def test_service_basics() -> None:
    """running follows start/stop; a named service cannot be renamed under a parent."""
    s = service.Service()
    assert not s.running
    s.startService()
    assert s.running
    assert "running" not in s.__getstate__()
    assert not pickle.loads(pickle.dumps(s)).running
    s.stopService()
    assert not s.running
    s.setName("a")
    s.setServiceParent(service.MultiService())
    with pytest.raises(RuntimeError, match="cannot change name when parent exists"):
        s.setName("b")


def test_multiservice_order_and_names() -> None:
    """Children start in order, stop in reverse; names are unique and looked up."""
    events: list[str] = []
    parent = service.MultiService()
    a, b = Recording("a", events), Recording("b", events)
    a.setServiceParent(parent)
    b.setServiceParent(parent)
    assert parent.getServiceNamed("b") is b
    assert list(parent) == [a, b]
    with pytest.raises(RuntimeError, match="same name 'a'"):
        Recording("a", events).setServiceParent(parent)
    parent.privilegedStartService()
    parent.startService()
    stopped = result(parent.stopService())
    assert events == ["privileged a", "privileged b", "start a", "start b", "stop b", "stop a"]
    assert stopped == [(True, None), (True, None)]


def test_multiservice_waits_for_children(logged_errors: Any) -> None:
    """stopService fires once every child's Deferred has fired; failures are reported."""
    parent = service.MultiService()
    slow: defer.Deferred[str] = defer.Deferred()
    broken: defer.Deferred[str] = defer.Deferred()
    Recording("slow", [], slow).setServiceParent(parent)
    Recording("broken", [], broken).setServiceParent(parent)
    parent.startService()
    box: list[Any] = []
    parent.stopService().addCallback(box.append)
    slow.callback("done")
    assert box == []
    broken.errback(ZeroDivisionError())
    [[(ok1, failure), (ok2, value)]] = box
    assert (ok1, ok2, value) == (False, True, "done")
    assert failure.check(ZeroDivisionError)
    assert len(logged_errors.flush(ZeroDivisionError)) == 1


def test_add_and_remove_while_running() -> None:
    """A child added to a running parent starts; removing it stops it."""
    events: list[str] = []
    parent = service.MultiService()
    parent.startService()
    child = Recording("c", events, "stopped")
    child.setServiceParent(parent)
    assert events == ["privileged c", "start c"]
    assert child.disownServiceParent() == "stopped"
    assert events[-1] == "stop c"
    assert child.parent is None
    with pytest.raises(KeyError):
        parent.getServiceNamed("c")


def test_stream_server_endpoint_service() -> None:
    """The service listens on start and stops listening on stop."""
    reactor = MemoryReactor()
    factory = protocol.Factory.forProtocol(Echo)
    svc = internet.StreamServerEndpointService(endpoints.TCP4ServerEndpoint(reactor, 80), factory)
    svc.startService()
    assert reactor.tcpServers[0][:2] == (80, factory)
    assert svc.running
    result(svc.stopService())
    assert not svc.running


def test_stream_server_endpoint_service_logs_listen_failure(logged_errors: Any) -> None:
    """A listen failure is logged, not raised (Twisted's default)."""
    reactor = RaisingMemoryReactor(listenException=error.CannotListenError("", 80, OSError()))
    svc = internet.StreamServerEndpointService(
        endpoints.TCP4ServerEndpoint(reactor, 80), protocol.Factory()
    )
    svc.startService()
    assert len(logged_errors.flush(error.CannotListenError)) == 1


def test_strports_service_raises_listen_failure() -> None:
    """strports.service raises the listen failure from startService."""
    reactor = RaisingMemoryReactor(listenException=error.CannotListenError("", 80, OSError()))
    svc = strports.service("tcp:80", protocol.Factory(), reactor=reactor)
    with pytest.raises(error.CannotListenError):
        svc.startService()


def test_strports_service_bad_description() -> None:
    """A malformed description is a ValueError at construction."""
    with pytest.raises(ValueError, match="unknown argument 'bogus'"):
        strports.service("tcp:80:bogus=1", protocol.Factory(), reactor=MemoryReactor())


def test_tcp_server_and_client_services() -> None:
    """TCPServer/TCPClient call listenTCP/connectTCP with their arguments."""
    reactor = MemoryReactor()
    factory = protocol.ClientFactory()
    server = internet.TCPServer(8080, factory, interface="127.0.0.1", reactor=reactor)
    server.startService()
    assert reactor.tcpServers == [(8080, factory, 50, "127.0.0.1")]
    assert "_port" not in server.__getstate__()
    result(server.stopService())
    client = internet.TCPClient("h", 80, factory, reactor=reactor)
    client.startService()
    assert reactor.tcpClients[0][:3] == ("h", 80, factory)
    client.stopService()
    assert reactor.connectors[0]._disconnected


def test_strports_loopback(reactor: Any) -> None:
    """strports.service listens for real and stops cleanly."""
    svc = strports.service(
        "tcp:0:interface=127.0.0.1", protocol.Factory.forProtocol(Echo), reactor=reactor
    )
    svc.startService()
    runUntil(reactor, svc.stopService())
    assert not svc.running
