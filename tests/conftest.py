"""Shared fixtures.

* ``loop_impl`` / ``reactor``: a fresh :class:`AsyncioReactor` on a new
  event loop, parametrized over the stdlib asyncio loop and uvloop.  Teardown
  fails the test on a call to the loop's exception handler, a leftover
  delayed call, a connection still open, a task still running, or a file
  descriptor leaked.
* ``logged_errors`` (autouse): torsion log records at ERROR level fail the
  test unless it flushes them with ``logged_errors.flush(*types)``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from torsion.internet._loops import newEventLoop
from torsion.internet.asyncioreactor import AsyncioReactor
from torsion.python.failure import Failure

try:
    import uvloop  # noqa: F401

    LOOPS = ["asyncio", "uvloop"]
except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
    LOOPS = ["asyncio"]


def _warmUp() -> None:
    """Create and close one loop of each kind before any fd accounting.

    libuv allocates a process-wide pipe the first time a loop is made; that
    is not a leak of the test that happens to come first.
    """
    for impl in LOOPS:
        loop = newEventLoop(impl)
        loop.run_until_complete(loop.getaddrinfo("127.0.0.1", 80))
        loop.close()


_warmUp()


def openFds() -> dict[int, str]:
    """The open file descriptors of this process, with what they point to."""
    result = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            result[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
    return result


class LoggedErrors:
    """ERROR records logged under ``torsion`` during one test."""

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    def failures(self) -> list[Any]:
        out = []
        for record in self.records:
            event = getattr(record, "torsion_event", None) or {}
            out.append(event.get("failure"))
        return out

    def flush(self, *types: type[BaseException]) -> list[Failure]:
        """Remove and return the logged failures of the given types (all if none)."""
        gc.collect()
        kept, flushed = [], []
        for record in self.records:
            event = getattr(record, "torsion_event", None) or {}
            failure = event.get("failure")
            if not types or (isinstance(failure, Failure) and failure.check(*types)):
                flushed.append(failure)
            else:
                kept.append(record)
        self.records = kept
        return flushed


class _Capture(logging.Handler):
    def __init__(self, sink: LoggedErrors) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.records.append(record)


@pytest.fixture(autouse=True)
def logged_errors() -> Iterator[LoggedErrors]:
    sink = LoggedErrors()
    handler = _Capture(sink)
    root = logging.getLogger("torsion")
    root.addHandler(handler)
    try:
        yield sink
        gc.collect()
    finally:
        root.removeHandler(handler)
    if sink.records:
        text = "\n".join(r.getMessage() for r in sink.records)
        pytest.fail(f"unexpected errors were logged:\n{text}")


@pytest.fixture(params=LOOPS)
def loop_impl(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def reactor(loop_impl: str, request: pytest.FixtureRequest) -> Iterator[AsyncioReactor]:
    if (
        request.node.get_closest_marker("tls")
        and loop_impl == "asyncio"
        and sys.version_info < (3, 11)
    ):
        pytest.skip(
            "the stdlib loop's TLS layer before Python 3.11 does not answer close_notify "
            "(CPython gh-74883); use uvloop there"
        )
    before = openFds()
    loop = newEventLoop(loop_impl)
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    r = AsyncioReactor(loop)
    try:
        yield r
        # Let closing transports finish.
        for _ in range(5):
            loop.run_until_complete(asyncio.sleep(0))
        leftovers = r.getDelayedCalls()
        openConnections = list(r._connections)
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    finally:
        for call in r.getDelayedCalls():
            call.cancel()
        for conn in list(r._connections):
            conn.abortConnection()
        for port in list(r._ports):
            port._shutdown()
        for _ in range(3):
            loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    assert not problems, f"the event loop's exception handler was called: {problems}"
    assert not leftovers, f"delayed calls left over: {leftovers}"
    assert not openConnections, f"connections left open: {openConnections}"
    assert not tasks, f"tasks left running: {tasks}"
    gc.collect()
    leaked = {fd: target for fd, target in openFds().items() if fd not in before}
    assert not leaked, f"file descriptors leaked: {leaked}"


@pytest.fixture
def bare_reactor() -> Iterator[AsyncioReactor]:
    """A reactor on a fresh stdlib loop that never runs: tests that drive a
    Connection's asyncio callbacks by hand use it."""
    loop = asyncio.new_event_loop()
    try:
        yield AsyncioReactor(loop)
    finally:
        loop.close()
