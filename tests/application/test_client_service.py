"""ClientService: random scenarios compared with Twisted's, and its specific behaviours."""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.application import internet as tinternet
from twisted.internet import defer as tdefer
from twisted.internet import protocol as tprotocol
from twisted.internet import task as ttask
from twisted.internet import testing as ttesting
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python import failure as tfailure

import torsion.internet
from torsion.application import internet
from torsion.internet import defer, main, protocol, task, testing
from torsion.python import failure, log


@dataclass
class Flavour:
    """One implementation's classes, so one scenario can drive either."""

    name: str
    ClientService: Any
    backoffPolicy: Any
    Deferred: Any
    CancelledError: Any
    Clock: Any
    StringTransport: Any
    Failure: Any
    Factory: Any
    Protocol: Any


TORSION = Flavour(
    "torsion",
    internet.ClientService,
    internet.backoffPolicy,
    defer.Deferred,
    defer.CancelledError,
    task.Clock,
    testing.StringTransport,
    failure.Failure,
    protocol.Factory,
    protocol.Protocol,
)
TWISTED = Flavour(
    "twisted",
    tinternet.ClientService,
    tinternet.backoffPolicy,
    tdefer.Deferred,
    tdefer.CancelledError,
    ttask.Clock,
    ttesting.StringTransport,
    tfailure.Failure,
    tprotocol.Factory,
    tprotocol.Protocol,
)


class Endpoint:
    """A client endpoint whose attempts the test completes by hand."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness

    def connect(self, factory: Any) -> Any:
        h = self.harness
        d = h.fl.Deferred()

        def build(_: Any) -> Any:
            proxy = factory.buildProtocol(None)
            proxy.makeConnection(h.fl.StringTransport())
            h.proxies.append(proxy)
            return proxy

        d.addCallback(build)
        h.connects.append(d)
        return d

    def __repr__(self) -> str:
        return "<TestEndpoint>"


class Harness:
    """A ClientService on a fake clock and endpoint, with a comparable trace."""

    def __init__(self, fl: Flavour, seed: int, prepare: bool = False) -> None:
        self.fl = fl
        self.clock = fl.Clock()
        self.connects: list[Any] = []
        self.proxies: list[Any] = []
        self.lost: set[int] = set()
        self.applicationProtocols: list[Any] = []
        self.waiters: list[list[Any]] = []
        self.stops: list[list[Any]] = []
        applicationProtocols = self.applicationProtocols

        class Remembering(fl.Factory):  # type: ignore[misc, name-defined]
            protocol = fl.Protocol

            def buildProtocol(self, addr: Any) -> Any:
                p = super().buildProtocol(addr)
                applicationProtocols.append(p)
                return p

        rng = random.Random(seed)
        policy = fl.backoffPolicy(initialDelay=0.5, maxDelay=8, factor=2.0, jitter=rng.random)
        self.service = fl.ClientService(Endpoint(self), Remembering(), policy, self.clock)

    def _box(self, d: Any) -> list[Any]:
        """The result once fired, then what had happened by then (to check ordering)."""
        box: list[Any] = []

        def keep(result: Any) -> None:
            box.extend([result, len(self.connects), len(self.clock.getDelayedCalls())])

        d.addBoth(keep)
        return box

    def step(self, name: str) -> None:
        fl, service = self.fl, self.service
        if name == "start":
            service.startService()
        elif name == "stop":
            self.stops.append(self._box(service.stopService()))
        elif name in ("succeed", "fail"):
            pending = [d for d in self.connects if not d.called]
            if pending:
                if name == "succeed":
                    pending[0].callback(None)
                else:
                    pending[0].errback(fl.Failure(ConnectionRefusedError()))
        elif name == "drop":
            live = [i for i in range(len(self.proxies)) if i not in self.lost]
            if live:
                self.lost.add(live[-1])
                self.proxies[live[-1]].connectionLost(fl.Failure(ConnectionResetError()))
        elif name.startswith("advance"):
            self.clock.advance(float(name[len("advance") :]))
        elif name.startswith("when"):
            arg = name[len("when") :]
            self.waiters.append(self._box(service.whenConnected(int(arg) if arg else None)))
        else:
            raise AssertionError(name)

    def describe(self, box: list[Any]) -> str:
        if not box:
            return "pending"
        value, connects, calls = box
        if isinstance(value, self.fl.Failure):
            text = "fail:" + value.type.__name__
        elif value is None:
            text = "None"
        else:
            text = f"proto{self.applicationProtocols.index(value)}"
        return f"{text} after {connects} connects, {calls} timers"

    def trace(self) -> tuple[Any, ...]:
        return (
            bool(self.service.running),
            [self.describe(w) for w in self.waiters],
            [self.describe(s) for s in self.stops],
            [d.called for d in self.connects],
            [p.transport.disconnecting for p in self.applicationProtocols],
            sorted(round(c.getTime(), 9) for c in self.clock.getDelayedCalls()),
        )


def run(fl: Flavour, seed: int, steps: list[str]) -> tuple[list[Any], list[str]]:
    messages: list[str] = []

    def onTwisted(event: dict[str, Any]) -> None:
        text = formatEvent(event)
        if text.startswith("Scheduling retry"):
            messages.append(text)

    def onTorsion(event: dict[str, Any]) -> None:
        text = log.textFromEventDict(event) or ""
        if text.startswith("Scheduling retry"):
            messages.append(text)

    torsionLogger = logging.getLogger("torsion")
    level = torsionLogger.level
    torsionLogger.setLevel(logging.INFO)
    if fl is TWISTED:
        globalLogPublisher.addObserver(onTwisted)
    else:
        log.addObserver(onTorsion)
    try:
        h = Harness(fl, seed)
        traces = []
        for name in steps:
            h.step(name)
            traces.append((name, h.trace()))
    finally:
        torsionLogger.setLevel(level)
        if fl is TWISTED:
            globalLogPublisher.removeObserver(onTwisted)
        else:
            log.removeObserver(onTorsion)
    return traces, messages


# Repeated entries make those steps likelier, so that runs reach every state.
STEPS = [
    "start", "start", "stop", "stop", "succeed", "succeed", "fail", "drop", "drop",
    "advance0.3", "advance1", "advance100", "when", "when1", "when2",
]  # fmt: skip


@settings(max_examples=250, deadline=None)
@given(steps=st.lists(st.sampled_from(STEPS), max_size=30), seed=st.integers(0, 2**32))
def test_same_behaviour_as_twisted(steps: list[str], seed: int) -> None:
    """Random start/stop/connect/fail/drop/wait sequences behave exactly as in Twisted."""
    ours, ourMessages = run(TORSION, seed, steps)
    theirs, theirMessages = run(TWISTED, seed, steps)
    assert ours == theirs
    assert ourMessages == theirMessages


KNOWN = {
    "retries": [
        "when2", "start", "fail", "advance1", "fail", "when", "advance100", "succeed", "drop",
        "when", "stop", "start", "advance100", "succeed", "stop", "drop", "when", "start",
        "succeed", "stop", "succeed",
    ],
    "restart": [
        "start", "succeed", "stop", "start", "when", "drop", "succeed", "stop", "start", "stop",
        "start", "drop", "fail", "advance100", "stop",
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_scenarios_match_twisted(name: str) -> None:
    """Scenarios through every state give Twisted's trace (and exercise the retry log)."""
    steps = KNOWN[name]
    ours, ourMessages = run(TORSION, 7, steps)
    theirs, theirMessages = run(TWISTED, 7, steps)
    assert ours == theirs
    assert ourMessages == theirMessages
    assert ourMessages[0].startswith("Scheduling retry 1 to connect <TestEndpoint> in 1.")
    assert ourMessages[-1].startswith("Scheduling retry 1 to connect <TestEndpoint> in 1.")


# -- specific behaviours ----------------------------------------------------------


def makeService(**kw: Any) -> tuple[Harness, Any]:
    h = Harness(TORSION, 0)
    h.service = internet.ClientService(Endpoint(h), protocol.Factory.forProtocol(Recorder), **kw)
    return h, h.service


class Recorder(protocol.Protocol):
    pass


def test_when_connected_fails_after_n_failures() -> None:
    """whenConnected(failAfterFailures=3) fails with the third failure in a row."""
    clock = task.Clock()
    h, service = makeService(clock=clock, retryPolicy=lambda attempt: 1.0)
    service.startService()
    box = h._box(service.whenConnected(failAfterFailures=3))
    forever = h._box(service.whenConnected())
    for i in range(3):
        assert box == []
        h.connects[i].errback(failure.Failure(ConnectionRefusedError(f"refused {i}")))
        clock.advance(1.0)
    result = box[0]
    assert result.check(ConnectionRefusedError)
    assert str(result.value) == "refused 2"
    assert forever == []
    h.connects[3].callback(None)
    assert forever[0] is h.proxies[0]._protocol
    h._box(service.stopService())
    assert clock.getDelayedCalls() == []


def test_prepare_connection_delays_when_connected() -> None:
    """prepareConnection gets the protocol; whenConnected waits for its Deferred."""
    prepared: list[Any] = []
    gate: defer.Deferred[None] = defer.Deferred()

    def prepare(proto: Any) -> defer.Deferred[None]:
        prepared.append(proto)
        return gate

    h, service = makeService(clock=task.Clock(), prepareConnection=prepare)
    service.startService()
    box = h._box(service.whenConnected())
    h.connects[0].callback(None)
    assert prepared == [h.proxies[0]]
    assert box == []
    gate.callback("ignored")
    assert box[0] is h.proxies[0]._protocol


def test_prepare_connection_failure_closes_the_connection() -> None:
    """A failed prepareConnection counts as a failure and closes that connection."""
    clock = task.Clock()

    def prepare(proto: Any) -> None:
        raise ValueError("not healthy")

    h, service = makeService(clock=clock, prepareConnection=prepare, retryPolicy=lambda n: 2.0)
    service.startService()
    box = h._box(service.whenConnected(failAfterFailures=1))
    h.connects[0].callback(None)
    assert box[0].check(ValueError)
    assert h.proxies[0].transport.disconnecting
    h.proxies[0].connectionLost(failure.Failure(ConnectionResetError()))  # ignored
    [retry] = clock.getDelayedCalls()
    assert retry.getTime() == 2.0
    h._box(service.stopService())


def test_stop_while_preparing_waits_for_close() -> None:
    """Stopping while prepareConnection runs closes the connection and waits for it."""
    gate: defer.Deferred[None] = defer.Deferred()
    h, service = makeService(clock=task.Clock(), prepareConnection=lambda p: gate)
    service.startService()
    waiter = h._box(service.whenConnected())
    h.connects[0].callback(None)
    stopped = h._box(service.stopService())
    assert h.proxies[0].transport.disconnecting
    assert stopped == []
    h.proxies[0].connectionLost(failure.Failure(ConnectionResetError()))
    assert stopped[0] is None
    assert waiter[0].check(defer.CancelledError)


def test_lost_while_preparing_is_a_failure() -> None:
    """A connection lost during prepareConnection fails the attempt with its reason."""
    clock = task.Clock()
    gate: defer.Deferred[None] = defer.Deferred()
    h, service = makeService(clock=clock, prepareConnection=lambda p: gate)
    service.startService()
    box = h._box(service.whenConnected(failAfterFailures=1))
    h.connects[0].callback(None)
    h.proxies[0].connectionLost(failure.Failure(ConnectionResetError()))
    assert box[0].check(ConnectionResetError)
    assert len(clock.getDelayedCalls()) == 1
    h._box(service.stopService())


def test_stop_from_when_connected_callback() -> None:
    """stopService may be called from a whenConnected callback (Twisted raises there)."""
    h, service = makeService(clock=task.Clock())
    service.startService()
    stopped: list[Any] = []
    service.whenConnected().addCallback(lambda p: stopped.append(service.stopService()))
    h.connects[0].callback(None)
    assert len(stopped) == 1
    assert h.proxies[0].transport.disconnecting
    h.proxies[0].connectionLost(failure.Failure(ConnectionResetError()))
    assert h._box(stopped[0])[0] is None


def test_duplicate_start_warns(caplog: pytest.LogCaptureFixture) -> None:
    """A second startService logs a warning and makes no new attempt."""
    h, service = makeService(clock=task.Clock())
    service.startService()
    service.startService()
    assert len(h.connects) == 1
    assert "Duplicate ClientService.startService" in caplog.text
    h._box(service.stopService())


def test_backoff_policy() -> None:
    """backoffPolicy grows by factor from attempt 1, caps, and adds jitter."""
    policy = internet.backoffPolicy(jitter=lambda: 0.25)
    assert [policy(n) for n in (1, 2, 3)] == [1.75, 2.5, 3.625]
    assert policy(100) == 60.25
    huge = internet.backoffPolicy(initialDelay=1e300, factor=1e300, maxDelay=5, jitter=lambda: 0)
    assert huge(7) == 5
    seeded = internet.backoffPolicy()
    random.seed(3)
    ours = seeded(2)
    random.seed(3)
    assert ours == tinternet.backoffPolicy()(2)


@pytest.fixture
def globalClock() -> Iterator[task.Clock]:
    saved = sys.modules.get("torsion.internet.reactor")
    savedAttr = torsion.internet.__dict__.get("reactor")
    main.uninstallReactor()
    clock = task.Clock()
    main.installReactor(clock)
    try:
        yield clock
    finally:
        main.uninstallReactor()
        if saved is not None:
            sys.modules["torsion.internet.reactor"] = saved
        if savedAttr is not None:
            torsion.internet.reactor = savedAttr


def test_clock_defaults_to_global_reactor(globalClock: task.Clock) -> None:
    """Without a clock, retries are scheduled on the global reactor."""
    h, service = makeService(retryPolicy=lambda n: 3.0)
    service.startService()
    h.connects[0].errback(failure.Failure(ConnectionRefusedError()))
    [call] = globalClock.getDelayedCalls()
    assert call.getTime() == 3.0
    h._box(service.stopService())
    assert globalClock.getDelayedCalls() == []
