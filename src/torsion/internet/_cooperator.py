"""Cooperative multitasking of iterators: ``Cooperator``, ``cooperate``,
``coiterate``.

Each task is an iterator; one ``next()`` is one unit of work.  A Cooperator
runs its tasks round-robin in time slices (10 ms by default), each slice
scheduled with ``callLater`` so the reactor gets to run in between.  A task
that yields a Deferred is paused until that Deferred fires.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from torsion.internet._defer import Deferred
from torsion.python.failure import Failure

__all__ = [
    "CooperativeTask",
    "Cooperator",
    "NotPaused",
    "SchedulerError",
    "SchedulerStopped",
    "TaskDone",
    "TaskFailed",
    "TaskFinished",
    "TaskStopped",
    "coiterate",
    "cooperate",
]

_IteratorT = TypeVar("_IteratorT", bound=Iterator[Any])


class SchedulerError(Exception):
    """The scheduler or a task was in the wrong state. Twisted: ``task.SchedulerError``."""


class SchedulerStopped(SchedulerError):
    """The Cooperator was stopped. Twisted: ``task.SchedulerStopped``."""


class TaskFinished(SchedulerError):
    """The task has ended for good. Twisted: ``task.TaskFinished``."""


class TaskDone(TaskFinished):
    """The task's iterator is exhausted. Twisted: ``task.TaskDone``."""


class TaskStopped(TaskFinished):
    """The task was stopped. Twisted: ``task.TaskStopped``."""


class TaskFailed(TaskFinished):
    """The task's iterator raised. Twisted: ``task.TaskFailed``."""


class NotPaused(SchedulerError):
    """``resume()`` of a task that is not paused. Twisted: ``task.NotPaused``."""


class _Timer:
    """The default slice: true once ``MAX_SLICE`` seconds have passed."""

    MAX_SLICE = 0.01

    def __init__(self) -> None:
        self.end = time.monotonic() + self.MAX_SLICE

    def __call__(self) -> bool:
        return time.monotonic() >= self.end


_EPSILON = 0.00000001


def _defaultScheduler(callable: Callable[[], None]) -> Any:
    from torsion.internet.main import getGlobalReactor

    return getGlobalReactor().callLater(_EPSILON, callable)


class CooperativeTask(Generic[_IteratorT]):
    """One iterator run by a :class:`Cooperator`. Twisted: ``task.CooperativeTask``.

    Made by :meth:`Cooperator.cooperate`, not directly.
    """

    def __init__(self, iterator: _IteratorT, cooperator: Cooperator) -> None:
        self._iterator = iterator
        self._cooperator = cooperator
        self._deferreds: list[Deferred[Any]] = []
        self._pauseCount = 0
        self._completionState: SchedulerError | None = None
        self._completionResult: Any = None
        cooperator._addTask(self)

    def whenDone(self) -> Deferred[_IteratorT]:
        """A Deferred for the end of the task. Twisted: ``CooperativeTask.whenDone``.

        It fires with the iterator once exhausted, or fails with what the
        iterator raised, :class:`TaskStopped` or :class:`SchedulerStopped`.
        """
        d: Deferred[_IteratorT] = Deferred()
        if self._completionState is None:
            self._deferreds.append(d)
        else:
            d.callback(self._completionResult)
        return d

    def pause(self) -> None:
        """Stop working until as many :meth:`resume` calls. Twisted: ``pause``.

        Raises:
            TaskFinished: if the task has ended.
        """
        self._checkFinish()
        self._pauseCount += 1
        if self._pauseCount == 1:
            self._cooperator._removeTask(self)

    def resume(self) -> None:
        """Undo one :meth:`pause`. Twisted: ``CooperativeTask.resume``.

        Raises:
            NotPaused: if the task is not paused.
        """
        if self._pauseCount == 0:
            raise NotPaused()
        self._pauseCount -= 1
        if self._pauseCount == 0 and self._completionState is None:
            self._cooperator._addTask(self)

    def stop(self) -> None:
        """End the task; ``whenDone`` Deferreds fail with :class:`TaskStopped`.

        Twisted: ``CooperativeTask.stop``.

        Raises:
            TaskFinished: if the task has already ended.
        """
        self._checkFinish()
        self._completeWith(TaskStopped(), Failure(TaskStopped()))

    def _completeWith(self, state: SchedulerError, result: Any) -> None:
        self._completionState = state
        self._completionResult = result
        if not self._pauseCount:
            self._cooperator._removeTask(self)
        # Fired last: a callback may use the Cooperator, which must no longer
        # hold this task.
        for d in self._deferreds:
            d.callback(result)

    def _checkFinish(self) -> None:
        if self._completionState is not None:
            raise self._completionState

    def _oneWorkUnit(self) -> None:
        try:
            result = next(self._iterator)
        except StopIteration:
            self._completeWith(TaskDone(), self._iterator)
        except BaseException:
            self._completeWith(TaskFailed(), Failure())
        else:
            if isinstance(result, Deferred):
                self.pause()

                def failLater(failure: Failure) -> None:
                    self._completeWith(TaskFailed(), failure)

                result.addCallbacks(lambda _: self.resume(), failLater)


class Cooperator:
    """Runs iterators in turns, a time slice at a time. Twisted: ``task.Cooperator``.

    Args:
        terminationPredicateFactory: called at the start of each slice; the
            callable it returns says when the slice is over (default: after
            10 ms).
        scheduler: called with a function to run the next slice (default:
            the global reactor's ``callLater`` with a tiny delay).
        started: run tasks as they are added; otherwise wait for
            :meth:`start`.
    """

    _mustScheduleOnStart = False

    def __init__(
        self,
        terminationPredicateFactory: Callable[[], Callable[[], bool]] = _Timer,
        scheduler: Callable[[Callable[[], None]], Any] = _defaultScheduler,
        started: bool = True,
    ) -> None:
        self._tasks: list[CooperativeTask[Any]] = []
        self._metarator: Iterator[CooperativeTask[Any]] = iter(())
        self._terminationPredicateFactory = terminationPredicateFactory
        self._scheduler = scheduler
        self._delayedCall: Any = None
        self._stopped = False
        self._started = started

    def coiterate(
        self, iterator: _IteratorT, doneDeferred: Deferred[_IteratorT] | None = None
    ) -> Deferred[_IteratorT]:
        """Run ``iterator`` as a task; a Deferred fires when it ends.

        Twisted: ``Cooperator.coiterate``.
        """
        if doneDeferred is None:
            doneDeferred = Deferred()
        CooperativeTask(iterator, self).whenDone().chainDeferred(doneDeferred)
        return doneDeferred

    def cooperate(self, iterator: _IteratorT) -> CooperativeTask[_IteratorT]:
        """Run ``iterator`` as a task. Twisted: ``Cooperator.cooperate``."""
        return CooperativeTask(iterator, self)

    def _addTask(self, task: CooperativeTask[Any]) -> None:
        self._tasks.append(task)
        if self._stopped:
            task._completeWith(SchedulerStopped(), Failure(SchedulerStopped()))
        else:
            self._reschedule()

    def _removeTask(self, task: CooperativeTask[Any]) -> None:
        self._tasks.remove(task)
        if not self._tasks and self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None

    def _tasksWhileNotStopped(self) -> Iterable[CooperativeTask[Any]]:
        terminator = self._terminationPredicateFactory()
        while self._tasks:
            for task in self._metarator:
                yield task
                if terminator():
                    return
            self._metarator = iter(self._tasks)

    def _tick(self) -> None:
        self._delayedCall = None
        for task in self._tasksWhileNotStopped():
            task._oneWorkUnit()
        self._reschedule()

    def _reschedule(self) -> None:
        if not self._started:
            self._mustScheduleOnStart = True
            return
        if self._delayedCall is None and self._tasks:
            self._delayedCall = self._scheduler(self._tick)

    def start(self) -> None:
        """Begin running tasks. Twisted: ``Cooperator.start``."""
        self._stopped = False
        self._started = True
        if self._mustScheduleOnStart:
            self._mustScheduleOnStart = False
            self._reschedule()

    def stop(self) -> None:
        """Drop every task; their ``whenDone`` fail with :class:`SchedulerStopped`.

        Twisted: ``Cooperator.stop``.
        """
        self._stopped = True
        # A copy: completing a task removes it from self._tasks.  (Twisted
        # iterates the list itself and so skips every other task.)
        for task in list(self._tasks):
            task._completeWith(SchedulerStopped(), Failure(SchedulerStopped()))
        self._tasks = []
        if self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None

    @property
    def running(self) -> bool:
        """Started and not stopped. Twisted: ``Cooperator.running``."""
        return self._started and not self._stopped


_theCooperator = Cooperator()


def coiterate(iterator: _IteratorT) -> Deferred[_IteratorT]:
    """Run ``iterator`` on the global Cooperator. Twisted: ``task.coiterate``."""
    return _theCooperator.coiterate(iterator)


def cooperate(iterator: _IteratorT) -> CooperativeTask[_IteratorT]:
    """Run ``iterator`` on the global Cooperator. Twisted: ``task.cooperate``."""
    return _theCooperator.cooperate(iterator)
