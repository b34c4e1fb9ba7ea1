"""Waiting on several Deferreds: ``DeferredList``, ``gatherResults``, ``race``.

All three attach a callback/errback pair to each given Deferred, so they see
the results those Deferreds have at that point of their chains, and (unless
errors are consumed) pass those results on unchanged to later callbacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from torsion.internet._defer import Deferred
from torsion.python import log
from torsion.python.failure import Failure

__all__ = [
    "FAILURE",
    "SUCCESS",
    "DeferredList",
    "FailureGroup",
    "FirstError",
    "gatherResults",
    "race",
]

_T = TypeVar("_T")

#: First element of a ``DeferredList`` result pair.
SUCCESS = True
FAILURE = False


class FirstError(Exception):
    """The first failure in a ``DeferredList`` with ``fireOnOneErrback``.

    Twisted: ``defer.FirstError``.  Two FirstErrors are equal when their
    index and sub-failure are.

    Attributes:
        subFailure: the :class:`Failure` of that Deferred.
        index: its position in the list.
    """

    def __init__(self, failure: Failure, index: int) -> None:
        super().__init__(failure, index)
        self.subFailure = failure
        self.index = index

    def __repr__(self) -> str:
        return f"FirstError[#{self.index}, {self.subFailure.value!r}]"

    def __str__(self) -> str:
        return f"FirstError[#{self.index}, {self.subFailure}]"

    def _key(self) -> tuple[int, Failure]:
        return (self.index, self.subFailure)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FirstError) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __lt__(self, other: object) -> bool:
        # Like Twisted: anything that is not a FirstError sorts after.
        if not isinstance(other, FirstError):
            return True
        return self._key() < other._key()

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, FirstError):
            return False
        return self._key() > other._key()

    def __le__(self, other: object) -> bool:
        return self == other or self < other

    def __ge__(self, other: object) -> bool:
        return self == other or self > other

    __hash__ = None  # type: ignore[assignment]


class FailureGroup(Exception):
    """Every Deferred given to :func:`race` failed.

    Twisted: ``defer.FailureGroup``.

    Attributes:
        failures: their Failures, in the order of the given Deferreds.
    """

    def __init__(self, failures: Sequence[Failure]) -> None:
        super().__init__()
        self.failures = failures


class DeferredList(Deferred[Any]):
    """A Deferred that fires when the Deferreds of a list have fired.

    Twisted: ``defer.DeferredList``.

    By default it fires with a list of ``(success, result)`` pairs, in the
    order of the given Deferreds (an empty list fires ``[]`` at once).

    Args:
        deferredList: the Deferreds to wait for.
        fireOnOneCallback: fire with ``(result, index)`` as soon as one of
            them succeeds.
        fireOnOneErrback: fail with a :class:`FirstError` as soon as one of
            them fails.
        consumeErrors: turn each failure into None in that Deferred's own
            chain once this list has seen it (so it is not reported as
            unhandled).

    Cancelling an unfired DeferredList cancels every Deferred in it.
    """

    fireOnOneCallback = False
    fireOnOneErrback = False

    def __init__(
        self,
        deferredList: Iterable[Deferred[Any]],
        fireOnOneCallback: bool = False,
        fireOnOneErrback: bool = False,
        consumeErrors: bool = False,
    ) -> None:
        self._deferredList = list(deferredList)
        self.resultList: list[Any] = [None] * len(self._deferredList)
        super().__init__()
        if not self._deferredList and not fireOnOneCallback:
            self.callback([])
        # Set before attaching: already fired Deferreds report at once.
        self.fireOnOneCallback = fireOnOneCallback
        self.fireOnOneErrback = fireOnOneErrback
        self.consumeErrors = consumeErrors
        self.finishedCount = 0
        for index, deferred in enumerate(self._deferredList):
            deferred.addCallbacks(
                self._cbDeferred,
                self._cbDeferred,
                callbackArgs=(index, SUCCESS),
                errbackArgs=(index, FAILURE),
            )

    def _cbDeferred(self, result: Any, index: int, succeeded: bool) -> Any:
        self.resultList[index] = (succeeded, result)
        self.finishedCount += 1
        if not self.called:
            if succeeded and self.fireOnOneCallback:
                self.callback((result, index))
            elif not succeeded and self.fireOnOneErrback:
                self.errback(Failure(FirstError(result, index)))
            elif self.finishedCount == len(self.resultList):
                self.callback(self.resultList)
        if not succeeded and self.consumeErrors:
            return None
        return result

    def cancel(self) -> None:
        """Cancel every Deferred of the list, unless this one has fired.

        Twisted: ``DeferredList.cancel``.  An exception raised by one of
        their cancellers is logged and the others are still cancelled.
        """
        if self.called:
            return
        for deferred in self._deferredList:
            try:
                deferred.cancel()
            except BaseException:
                log.err(None, "Exception raised from user supplied canceller")


def _onlyResults(resultList: list[tuple[bool, _T]]) -> list[_T]:
    return [result for _, result in resultList]


def gatherResults(
    deferredList: Iterable[Deferred[_T]], consumeErrors: bool = False
) -> Deferred[list[_T]]:
    """A Deferred for the list of the results of ``deferredList``.

    Twisted: ``defer.gatherResults``.  It fails with :class:`FirstError` as
    soon as one of them fails; cancelling it cancels them all.

    Args:
        deferredList: the Deferreds to wait for.
        consumeErrors: as for :class:`DeferredList`.
    """
    d = DeferredList(deferredList, fireOnOneErrback=True, consumeErrors=consumeErrors)
    return d.addCallback(_onlyResults)


def race(ds: Sequence[Deferred[_T]]) -> Deferred[tuple[int, _T]]:
    """The first success among ``ds``, as ``(index, result)``; the rest are cancelled.

    Twisted: ``defer.race``.  If they all fail, it fails with
    :class:`FailureGroup`.  Cancelling it cancels every one of them.
    """
    candidates = list(ds)
    winner: Deferred[_T] | None = None
    failures: list[tuple[int, Failure]] = []

    def cancelAll(_: Deferred[Any]) -> None:
        for d in candidates:
            d.cancel()

    final: Deferred[tuple[int, _T]] = Deferred(cancelAll)

    def succeeded(output: _T, index: int) -> None:
        nonlocal winner
        if winner is not None:
            # A loser's canceller fired it with a success: ignored.
            return
        winner = candidates[index]
        for d in candidates:
            if d is not winner:
                d.cancel()
        final.callback((index, output))

    def failed(failure: Failure, index: int) -> None:
        failures.append((index, failure))
        if len(failures) == len(candidates):
            failures.sort(key=lambda pair: pair[0])
            final.errback(FailureGroup([f for _, f in failures]))

    for index, d in enumerate(candidates):
        d.addCallbacks(succeeded, failed, callbackArgs=(index,), errbackArgs=(index,))
    return final
