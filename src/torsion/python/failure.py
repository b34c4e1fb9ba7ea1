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

import linecache
import sys
from collections.abc import Callable, Generator
from io import StringIO
from types import TracebackType
from typing import IO, Any, NoReturn, TypeVar

__all__ = ["DefaultException", "Failure", "NoCurrentExceptionError", "startDebugMode"]

_T = TypeVar("_T")

# (function name, file name, line number, locals items, globals items)
Frame = tuple[str, str, int, Any, Any]

_count = 0


class DefaultException(Exception):
    """Wraps a non-exception object given to :class:`Failure`."""


class NoCurrentExceptionError(Exception):
    """``Failure()`` was called with no argument outside of an ``except`` block."""


def _qual(cls: object) -> str:
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", None) or getattr(cls, "__name__", repr(cls))
    return f"{module}.{name}" if module else str(name)


def _safeStr(obj: object) -> str:
    try:
        return str(obj)
    except BaseException:
        try:
            return f"<{_qual(type(obj))} instance with broken __str__>"
        except BaseException:
            return "<object with broken __str__>"


class _FakeCode:
    def __init__(self, name: str, filename: str) -> None:
        self.co_name = name
        self.co_filename = filename

    def co_positions(self) -> Generator[tuple[None, None, None, None], None, None]:
        yield (None, None, None, None)


class _FakeFrame:
    def __init__(self, frame: Frame, back: _FakeFrame | None) -> None:
        self.f_code = _FakeCode(frame[0], frame[1])
        self.f_lineno = frame[2]
        self.f_globals = dict(frame[4] or ())
        self.f_locals = dict(frame[3] or ())
        self.f_back = back


class _FakeTraceback:
    """Enough of a traceback object for ``traceback.extract_tb``."""

    def __init__(self, frames: list[Frame], back: _FakeFrame | None = None) -> None:
        self.tb_frame = _FakeFrame(frames[0], back)
        self.tb_lineno = frames[0][2]
        self.tb_lasti = -1
        self.tb_next = _FakeTraceback(frames[1:], self.tb_frame) if len(frames) > 1 else None


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
        """Qualified names of the exception class and its bases."""
        if self._parents is None:
            if isinstance(self.type, type) and issubclass(self.type, BaseException):
                self._parents = [_qual(c) for c in self.type.__mro__]
            else:
                self._parents = [self.type]
        return self._parents

    @parents.setter
    def parents(self, parents: list[Any]) -> None:
        self._parents = parents

    def check(self, *errorTypes: type[BaseException] | str) -> Any:
        """Return the first of ``errorTypes`` this failure is an instance of.

        Twisted: ``Failure.check``. Accepts classes or qualified class names.

        Returns:
            The matching entry of ``errorTypes``, or None.
        """
        for error in errorTypes:
            if isinstance(error, type):
                if isinstance(self.type, type) and issubclass(self.type, error):
                    return error
            elif error in self.parents:
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
            return _FakeTraceback(self.frames)
        return None

    def cleanFailure(self) -> None:
        """Drop references to frames, keeping only their printable summary.

        Twisted: ``Failure.cleanFailure``.
        """
        _ = self.frames
        self.tb = None
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
            file: where to write; standard error when None.
            elideFrameworkCode: ignored (deprecated in Twisted).
            detail: ``'brief'``, ``'default'`` or ``'verbose'``.
        """
        if detail not in ("brief", "default", "verbose"):
            raise ValueError(f"Detail must be default, brief, or verbose. (not {detail!r})")
        out = sys.stderr if file is None else file
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
            _formatFrames(frames, w, detail, self.captureVars)
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
        state = dict(self.__dict__)
        state["_frames"] = [
            (name, file, line, [(k, repr(v)) for k, v in lv], [(k, repr(v)) for k, v in gv])
            for name, file, line, lv, gv in self.frames
        ]
        state["tb"] = None
        state["pickled"] = 1
        return state

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        self.__dict__.update(state or {})

    def __reduce__(self) -> Any:
        return (_newFailure, (), self.__getstate__())


def _newFailure() -> Failure:
    return Failure.__new__(Failure)


def _formatFrames(
    frames: list[Frame], w: Callable[[str], object], detail: str, vars_: bool
) -> None:
    if detail == "brief":
        for name, filename, lineno, _l, _g in frames:
            w(f"{filename}:{lineno}:{name}\n")
    elif detail == "default":
        for name, filename, lineno, _l, _g in frames:
            w(f'  File "{filename}", line {lineno}, in {name}\n')
            w(f"    {linecache.getline(filename, lineno).strip()}\n")
    else:
        for name, filename, lineno, localz, globalz in frames:
            w(f"{filename}:{lineno}: {name}(...)\n")
            if not vars_:
                continue
            w(" [ Locals ]\n")
            for key, val in localz:
                w(f"  {key} : {val!r}\n")
            w(" ( Globals )\n")
            for key, val in globalz:
                w(f"  {key} : {val!r}\n")
        if not vars_:
            w(" [Capture of Locals and Globals disabled (use captureVars=True)]\n")


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
