"""``Failure``: an exception plus its traceback, passed around as a value.

Deferred errbacks and ``connectionLost`` receive a :class:`Failure` instead of
a raised exception, because the error happened somewhere else and earlier.
The API and the printed forms follow Twisted's ``twisted.python.failure``.

A Failure keeps the live traceback object until :meth:`Failure.cleanFailure`
turns it into plain ``(function, file, line)`` tuples, so a Failure that sits
at the end of a Deferred chain does not keep whole frames (and their locals)
alive.
"""

from __future__ import annotations

import sys
from collections.abc import Generator
from io import StringIO
from types import TracebackType
from typing import IO, Any, NoReturn, TypeVar

from torsion.python._failuretext import (
    Frame,
    _fakeTraceback,
    _qual,
    _reprVars,
    _safeStr,
    format_frames,
)

__all__ = [
    "DefaultException",
    "Failure",
    "NoCurrentExceptionError",
    "format_frames",
    "startDebugMode",
]

_T = TypeVar("_T")

_count = 0


class DefaultException(Exception):
    """Wraps a non-exception object given to :class:`Failure`."""


class NoCurrentExceptionError(Exception):
    """``Failure()`` was called with no argument outside of an ``except`` block."""


class Failure(BaseException):
    """An error that has already happened, carried as a value.

    Twisted: ``twisted.python.failure.Failure``.

    Args:
        exc_value: the exception. With no argument the exception being handled
            (``sys.exc_info()``) is captured; ``NoCurrentExceptionError`` is
            raised if there is none. A Failure given here is copied.
        exc_type: the exception type, if it differs from ``type(exc_value)``.
        exc_tb: the traceback to keep, if ``exc_value`` carries none.
        captureVars: also record locals and globals of each frame.

    Attributes:
        value: the exception instance.
        type: the exception class.
        tb: the traceback object, or None once cleaned.
        count: a process-wide serial number.
    """

    pickled = 0
    _parents: list[Any] | None = None
    _frames: list[Frame] | None = None

    def __init__(
        self,
        exc_value: object = None,
        exc_type: type[BaseException] | None = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> None:
        global _count
        _count += 1
        self.count = _count
        self.captureVars = captureVars
        tb: TracebackType | None = None
        value: Any
        if exc_value is None:
            excType, value, tb = sys.exc_info()
            if excType is None:
                raise NoCurrentExceptionError()
            self.type: Any = excType
        elif exc_type is None:
            value = exc_value
            self.type = type(exc_value)
        else:
            value = exc_value
            self.type = exc_type
        self.value: Any = value
        if isinstance(value, Failure):
            self.__dict__ = dict(value.__dict__)
            return
        if tb is None:
            tb = exc_tb or getattr(value, "__traceback__", None)
        self.tb: TracebackType | None = tb

    @classmethod
    def _withoutTraceback(cls, value: BaseException) -> Failure:
        """Build a Failure for a freshly made exception, cheaply."""
        global _count
        _count += 1
        self = cls.__new__(cls)
        self.count = _count
        self.captureVars = False
        self.value = value
        self.type = type(value)
        self.tb = None
        return self

    # -- introspection -----------------------------------------------------

    @property
    def frames(self) -> list[Frame]:
        """Frames of the traceback, outermost first, as plain tuples."""
        if self._frames is not None:
            return self._frames
        frames: list[Frame] = []
        tb = self.tb
        while tb is not None:
            f = tb.tb_frame
            if self.captureVars:
                localz = {k: v for k, v in f.f_locals.items() if k != "__builtins__"}
                globalz = (
                    {}
                    if f.f_locals is f.f_globals
                    else {k: v for k, v in f.f_globals.items() if k != "__builtins__"}
                )
                frame: Frame = (
                    f.f_code.co_name,
                    f.f_code.co_filename,
                    tb.tb_lineno,
                    list(localz.items()),
                    list(globalz.items()),
                )
            else:
                frame = (f.f_code.co_name, f.f_code.co_filename, tb.tb_lineno, (), ())
            frames.append(frame)
            tb = tb.tb_next
        self._frames = frames
        return frames

    @frames.setter
    def frames(self, frames: list[Frame]) -> None:
        self._frames = frames

    @property
    def stack(self) -> list[Frame]:
        """Always empty; kept for compatibility (deprecated in Twisted)."""
        return []

    @property
    def parents(self) -> list[Any]:
        """Qualified names of the exception class and its bases.

        As in Twisted, for a type that is not an ``Exception`` subclass
        (``KeyboardInterrupt``, a non-exception object) this is just
        ``[type]``.
        """
        if self._parents is None:
            if isinstance(self.type, type) and issubclass(self.type, Exception):
                self._parents = [_qual(c) for c in self.type.__mro__]
            else:
                self._parents = [self.type]
        return self._parents

    @parents.setter
    def parents(self, parents: list[Any]) -> None:
        self._parents = parents

    def check(self, *errorTypes: type[BaseException] | str) -> Any:
        """Return the first of ``errorTypes`` that this failure matches.

        Twisted: ``Failure.check``.  ``Exception`` subclasses and
        ``module.Name`` strings are compared by qualified name with
        :attr:`parents`; other ``BaseException`` types only match exactly.

        Returns:
            The matching entry of ``errorTypes``, or None.
        """
        parents = self.parents
        for error in errorTypes:
            key: Any = error
            if isinstance(error, type) and issubclass(error, Exception):
                key = _qual(error)
            if key in parents:
                return error
        return None

    def trap(self, *errorTypes: type[BaseException] | str) -> Any:
        """Like :meth:`check`, but re-raise the original exception on no match.

        Twisted: ``Failure.trap``.
        """
        error = self.check(*errorTypes)
        if not error:
            self.raiseException()
        return error

    def raiseException(self) -> NoReturn:
        """Raise the wrapped exception with its original traceback.

        Twisted: ``Failure.raiseException``.
        """
        raise self.value.with_traceback(self.tb)

    def throwExceptionIntoGenerator(self, g: Generator[_T, Any, Any]) -> _T:
        """Throw the wrapped exception into generator ``g``.

        Twisted: ``Failure.throwExceptionIntoGenerator``.

        Returns:
            The next value ``g`` yields.
        """
        return g.throw(self.value.with_traceback(self.tb))

    def getTracebackObject(self) -> Any:
        """The live traceback, a stand-in rebuilt from frames, or None."""
        if self.tb is not None:
            return self.tb
        if self.frames:
            return _fakeTraceback(self.frames)
        return None

    def cleanFailure(self) -> None:
        """Drop references to frames and objects, keeping a printable summary.

        Twisted: ``Failure.cleanFailure``.  Afterwards the failure is in the
        state unpickling gives: no live traceback, frame variables as
        ``repr`` strings, ``pickled`` set.
        """
        state = self.__getstate__()
        state["_frames"] = state.pop("frames")
        state["_parents"] = state.pop("parents")
        state.pop("stack", None)
        self.__dict__ = state
        if getattr(self.value, "__traceback__", None) is not None:
            self.value.__traceback__ = None

    # -- rendering ---------------------------------------------------------

    def getErrorMessage(self) -> str:
        """``str()`` of the wrapped exception, never raising.

        Twisted: ``Failure.getErrorMessage``.
        """
        if isinstance(self.value, Failure):
            return self.value.getErrorMessage()
        return _safeStr(self.value)

    def getBriefTraceback(self) -> str:
        """The brief traceback as a string. Twisted: ``Failure.getBriefTraceback``."""
        io = StringIO()
        self.printBriefTraceback(file=io)
        return io.getvalue()

    def getTraceback(self, elideFrameworkCode: int = 0, detail: str = "default") -> str:
        """The traceback as a string. Twisted: ``Failure.getTraceback``."""
        io = StringIO()
        self.printTraceback(file=io, elideFrameworkCode=elideFrameworkCode, detail=detail)
        return io.getvalue()

    def printTraceback(
        self,
        file: IO[str] | None = None,
        elideFrameworkCode: object = False,
        detail: str = "default",
    ) -> None:
        """Write the traceback in the style of the interpreter.

        Twisted: ``Failure.printTraceback``.

        Args:
            file: where to write; when None, the log (as errors), as in
                Twisted.
            elideFrameworkCode: ignored (deprecated in Twisted).
            detail: ``'brief'``, ``'default'`` or ``'verbose'``.

        Raises:
            ValueError: for another ``detail`` when there are frames to show.
        """
        if file is None:
            from torsion.python import log

            file = log.logerr
        out: Any = file
        w = out.write
        frames = self.frames
        if detail == "verbose":
            w(f"*--- Failure #{self.count}{' (pickled) ' if self.pickled else ' '}---\n")
        elif detail == "brief":
            head = "Traceback" if frames else "Traceback (failure with no frames)"
            w(f"{head}: {_safeStr(self.type)}: {_safeStr(self.value)}\n")
        else:
            w("Traceback (most recent call last):\n")
        if frames:
            if detail == "verbose" and not self.captureVars:
                format_frames(frames, w, "verbose-vars-not-captured")
            else:
                format_frames(frames, w, detail)
        elif detail != "brief":
            w("Failure: ")
        if detail != "brief":
            w(f"{_qual(self.type)}: {_safeStr(self.value)}\n")
        if isinstance(self.value, Failure):
            w(" (chained Failure)\n")
            self.value.printTraceback(out, elideFrameworkCode, detail)
        if detail == "verbose":
            w(f"*--- End of Failure #{self.count} ---\n")

    def printBriefTraceback(self, file: IO[str] | None = None, elideFrameworkCode: int = 0) -> None:
        """Write the one-line-per-frame form. Twisted: ``printBriefTraceback``."""
        self.printTraceback(file, elideFrameworkCode, detail="brief")

    def printDetailedTraceback(
        self, file: IO[str] | None = None, elideFrameworkCode: int = 0
    ) -> None:
        """Write frames with locals and globals. Twisted: ``printDetailedTraceback``."""
        self.printTraceback(file, elideFrameworkCode, detail="verbose")

    def __repr__(self) -> str:
        return f"<{_qual(type(self))} {_qual(self.type)}: {self.getErrorMessage()}>"

    def __str__(self) -> str:
        return f"[Failure instance: {self.getBriefTraceback()}]"

    # -- pickling ----------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        """The picklable state: no traceback, frame variables as reprs.

        Keys are Twisted's (``parents``, ``frames``, ``stack``), so the state
        has the shape Twisted's Failure pickles to.
        """
        parents = self.parents
        state = dict(self.__dict__)
        state.pop("_parents", None)
        state.pop("_frames", None)
        state["parents"] = parents
        state["stack"] = []
        if self.captureVars:
            state["frames"] = [
                [name, file, line, _reprVars(lv), _reprVars(gv)]
                for name, file, line, lv, gv in self.frames
            ]
        else:
            state["frames"] = self.frames
        state["tb"] = None
        state["pickled"] = 1
        return state

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        state = dict(state or {})
        state.pop("stack", None)
        if "parents" in state:
            state["_parents"] = state.pop("parents")
        if "frames" in state:
            state["_frames"] = state.pop("frames")
        self.__dict__.update(state)

    def __reduce__(self) -> Any:
        return (_newFailure, (), self.__getstate__())


def _newFailure() -> Failure:
    return Failure.__new__(Failure)


def startDebugMode() -> None:
    """Open ``pdb`` post-mortem whenever a Failure captures the current exception.

    Twisted: ``twisted.python.failure.startDebugMode``.
    """
    original = Failure.__init__

    def debugInit(
        self: Failure,
        exc_value: object = None,
        exc_type: type[BaseException] | None = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> None:
        if exc_value is None and exc_type is None and exc_tb is None:
            _t, value, tb = sys.exc_info()
            if tb is not None and not isinstance(value, Failure):
                import pdb

                print(f"Jumping into debugger for post-mortem of exception '{_safeStr(value)}':")
                pdb.post_mortem(tb)
        original(self, exc_value, exc_type, exc_tb, captureVars)

    Failure.__init__ = debugInit  # type: ignore[method-assign]
