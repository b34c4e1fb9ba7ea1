"""ReconnectingClientFactory on a fake clock, compared with Twisted's own factory."""

from __future__ import annotations

import pickle
import random
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet import protocol as tprotocol
from twisted.internet import task as ttask
from twisted.python import log as tlog

import torsion.internet
from torsion.internet import error, main, protocol
from torsion.internet.task import Clock
from torsion.python import log
from torsion.python.failure import Failure


class FakeConnector:
    """Counts connect() calls; same repr for both implementations."""

    def __init__(self, raising: bool = False) -> None:
        self.connects = 0
        self.stops = 0
        self.raising = raising

    def connect(self) -> None:
        self.connects += 1

    def stopConnecting(self) -> None:
        self.stops += 1
        if self.raising:
            raise error.NotConnectingError()

    def __repr__(self) -> str:
        return "<FakeConnector>"


class Messages:
    """Collects the text of log messages from torsion's and Twisted's log."""

    def __init__(self) -> None:
        self.torsion: list[str] = []
        self.twisted: list[str] = []

    def onTorsion(self, event: dict[str, Any]) -> None:
        self.torsion.append(log.textFromEventDict(event) or "")

    def onTwisted(self, event: dict[str, Any]) -> None:
        self.twisted.append(tlog.textFromEventDict(event) or "")


@pytest.fixture
def messages(caplog: pytest.LogCaptureFixture) -> Iterator[Messages]:
    caplog.set_level("INFO", logger="torsion")
    m = Messages()
    log.addObserver(m.onTorsion)
    tlog.addObserver(m.onTwisted)
    try:
        yield m
    finally:
        log.removeObserver(m.onTorsion)
        tlog.removeObserver(m.onTwisted)


Step = Callable[[Any, Any, Any], None]


def failed(factory: Any, connector: Any, clock: Any) -> None:
    factory.clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))


def lost(factory: Any, connector: Any, clock: Any) -> None:
    factory.clientConnectionLost(connector, Failure(error.ConnectionLost()))


def fire(factory: Any, connector: Any, clock: Any) -> None:
    """Let the pending retry (if any) run."""
    clock.advance(10_000)


def reset(factory: Any, connector: Any, clock: Any) -> None:
    factory.resetDelay()


def stop(factory: Any, connector: Any, clock: Any) -> None:
    factory.stopTrying()


def explicitRetry(factory: Any, connector: Any, clock: Any) -> None:
    factory.retry()


def run(
    factoryClass: type[Any],
    clockClass: type[Any],
    seed: int,
    steps: list[Step],
    configure: Callable[[Any], None],
) -> list[tuple[Any, ...]]:
    """Run ``steps`` on a fresh factory; trace delays, counters and connects."""
    random.seed(seed)
    factory = factoryClass()
    factory.clock = clock = clockClass()
    configure(factory)
    connector = FakeConnector()
    trace: list[tuple[Any, ...]] = []
    for step in steps:
        step(factory, connector, clock)
        pending = [c.getTime() - clock.seconds() for c in clock.getDelayedCalls()]
        trace.append(
            (
                step.__name__,
                pending,
                factory.delay,
                factory.retries,
                bool(factory.continueTrying),
                connector.connects,
                connector.stops,
            )
        )
    return trace


def noConfig(factory: Any) -> None:
    pass


def fastConfig(factory: Any) -> None:
    factory.initialDelay = 0.05
    factory.maxDelay = 0.4
    factory.factor = 2.0
    factory.resetDelay()  # Twisted needs this for an instance initialDelay (#5103)


def limitedConfig(factory: Any) -> None:
    factory.maxRetries = 3


def noJitterConfig(factory: Any) -> None:
    factory.jitter = None


SCENARIOS = {
    "defaults, past the cap": (noConfig, [failed, fire] * 14),
    "fast schedule": (fastConfig, [failed, fire] * 8 + [reset] + [lost, fire] * 3),
    "maxRetries": (limitedConfig, [failed, fire] * 5 + [reset, failed]),
    "no jitter": (noJitterConfig, [failed, fire] * 10),
    "stopTrying": (noConfig, [failed, fire, failed, stop, fire, lost, explicitRetry, reset, lost]),
}


@pytest.mark.parametrize("seed", [0, 1, 12345])
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_same_schedule_as_twisted(scenario: str, seed: int, messages: Messages) -> None:
    """With the same seed, delays, counters, reconnects and log lines equal Twisted's."""
    configure, steps = SCENARIOS[scenario]
    ours = run(protocol.ReconnectingClientFactory, Clock, seed, steps, configure)
    theirs = run(tprotocol.ReconnectingClientFactory, ttask.Clock, seed, steps, configure)
    assert ours == theirs
    assert messages.torsion == messages.twisted
    assert any("will retry in" in m for m in messages.torsion)


def test_default_attributes_match_twisted() -> None:
    """Class attributes and their defaults are Twisted's."""
    names = [
        "maxDelay",
        "initialDelay",
        "factor",
        "jitter",
        "delay",
        "retries",
        "maxRetries",
        "continueTrying",
        "connector",
        "clock",
        "noisy",
    ]
    ours, theirs = protocol.ReconnectingClientFactory(), tprotocol.ReconnectingClientFactory()
    assert {n: getattr(ours, n) for n in names} == {n: getattr(theirs, n) for n in names}
    assert protocol.ReconnectingClientFactory.delay == 1.0


def test_default_schedule_values() -> None:
    """Without jitter the waits are 1, e, e**2, ... capped at maxDelay."""
    factory = protocol.ReconnectingClientFactory()
    factory.jitter = None
    factory.clock = clock = Clock()
    connector = FakeConnector()
    waits = []
    for _ in range(11):
        failed(factory, connector, clock)
        [call] = clock.getDelayedCalls()
        waits.append(round(call.getTime() - clock.seconds(), 3))
        clock.advance(call.getTime() - clock.seconds())
    assert waits == [1.0, 2.718, 7.389, 20.086, 54.598, 148.413, 403.429, 1096.633, 2980.958,
                     3600, 3600]  # fmt: skip
    assert connector.connects == 11


def test_subclass_initial_delay_is_used_first() -> None:
    """A subclass's initialDelay applies to the first retry (twisted#5103 fixed)."""

    def firstWait(base: type[Any], clockClass: type[Any]) -> float:
        class Slow(base):  # type: ignore[misc, valid-type]
            initialDelay = 5.0
            jitter = None

        factory = Slow()
        factory.clock = clock = clockClass()
        factory.clientConnectionFailed(FakeConnector(), None)
        [call] = clock.getDelayedCalls()
        return float(call.getTime())

    assert firstWait(protocol.ReconnectingClientFactory, Clock) == 5.0
    # Twisted still waits its class default first (the bug torsion fixes).
    assert firstWait(tprotocol.ReconnectingClientFactory, ttask.Clock) == 1.0


def test_instance_initial_delay_is_used_first() -> None:
    """initialDelay set on an instance also applies before any resetDelay()."""
    factory = protocol.ReconnectingClientFactory()
    factory.initialDelay = 0.25
    factory.jitter = None
    factory.clock = clock = Clock()
    factory.clientConnectionFailed(FakeConnector(), Failure(error.ConnectionRefusedError()))
    assert clock.getDelayedCalls()[0].getTime() == 0.25


def test_class_body_delay_still_wins() -> None:
    """A subclass that sets delay in its class body (the old workaround) keeps it."""

    class Old(protocol.ReconnectingClientFactory):
        initialDelay = 3.0
        delay = 2.0
        jitter = None

    factory = Old()
    factory.clock = clock = Clock()
    factory.clientConnectionFailed(FakeConnector(), Failure(error.ConnectionRefusedError()))
    assert clock.getDelayedCalls()[0].getTime() == 2.0
    factory.resetDelay()
    assert factory.delay == 3.0


def test_stop_trying_cancels_and_stops_connecting() -> None:
    """stopTrying cancels the pending retry and stops a connection attempt."""
    factory = protocol.ReconnectingClientFactory()
    factory.clock = clock = Clock()
    connector = FakeConnector()
    failed(factory, connector, clock)
    assert len(clock.getDelayedCalls()) == 1
    factory.stopTrying()
    assert clock.getDelayedCalls() == []
    assert connector.stops == 1
    assert not factory.continueTrying
    lost(factory, connector, clock)
    assert clock.getDelayedCalls() == []


def test_stop_trying_when_connected() -> None:
    """stopTrying on a connected connector ignores NotConnectingError; no retry follows."""
    factory = protocol.ReconnectingClientFactory()
    factory.clock = clock = Clock()
    connector = FakeConnector(raising=True)
    factory.connector = connector
    factory.stopTrying()
    assert connector.stops == 1
    lost(factory, connector, clock)
    assert clock.getDelayedCalls() == []
    assert connector.connects == 0


def test_retry_without_connector() -> None:
    """retry() with no connector known raises ValueError."""
    with pytest.raises(ValueError, match="no connector to retry"):
        protocol.ReconnectingClientFactory().retry()


def test_pickle_keeps_configuration_only() -> None:
    """Pickling drops the connector, counters, pending call and clock."""
    factory = protocol.ReconnectingClientFactory()
    factory.maxDelay = 10
    factory.clock = Clock()
    failed(factory, FakeConnector(), factory.clock)
    factory.stopTrying()
    state = factory.__getstate__()
    assert state == {"maxDelay": 10}
    copy = pickle.loads(pickle.dumps(factory))
    assert copy.maxDelay == 10
    assert (copy.delay, copy.retries, copy.continueTrying) == (1.0, 0, 1)
    assert copy.connector is None and copy.clock is None and copy._callID is None


@pytest.fixture
def globalClock() -> Iterator[Clock]:
    """Install a Clock as the global reactor for one test."""
    saved = sys.modules.get("torsion.internet.reactor")
    savedAttr = torsion.internet.__dict__.get("reactor")
    main.uninstallReactor()
    clock = Clock()
    main.installReactor(clock)
    try:
        yield clock
    finally:
        main.uninstallReactor()
        if saved is not None:
            sys.modules["torsion.internet.reactor"] = saved
        if savedAttr is not None:
            torsion.internet.reactor = savedAttr


def test_clock_defaults_lazily_to_global_reactor(globalClock: Clock) -> None:
    """Without a clock, the first retry takes the global reactor, not before."""
    factory = protocol.ReconnectingClientFactory()
    assert factory.clock is None
    failed(factory, FakeConnector(), None)
    assert factory.clock is globalClock
    assert len(globalClock.getDelayedCalls()) == 1
    factory.stopTrying()
