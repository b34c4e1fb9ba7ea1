"""Text helpers of :mod:`torsion.python.failure`: qualified names, ``str`` and
``repr`` that never raise, Twisted's frame layouts (:func:`format_frames`),
and stand-in traceback objects rebuilt from saved frames (for Failures whose
live traceback was dropped by ``cleanFailure`` or pickling).
"""

from __future__ import annotations

import linecache
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["Frame", "format_frames"]

# (function name, file name, line number, locals items, globals items)
Frame = tuple[str, str, int, Any, Any]


def _qual(cls: object) -> str:
    """``module.Name`` of a class, as Twisted's ``reflect.qual`` spells it."""
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__name__", None) or repr(cls)
    return f"{module}.{name}" if module else str(name)


def _brokenText(obj: object, how: str) -> str:
    try:
        cls: Any = obj.__class__
    except BaseException:
        cls = type(obj)
    try:
        name = cls.__name__
    except BaseException:
        name = "<broken class>"
    detail = traceback.format_exc()
    return f"<{name} instance at 0x{id(obj):x} with {how} error:\n {detail}>"


def _safeStr(obj: object) -> str:
    """``str(obj)`` that never raises; bytes holding UTF-8 are decoded."""
    if isinstance(obj, bytes):
        try:
            return obj.decode("utf-8")
        except BaseException:
            pass
    try:
        return str(obj)
    except BaseException:
        return _brokenText(obj, "str")


def _safeRepr(obj: object) -> str:
    """``repr(obj)`` that never raises."""
    try:
        return repr(obj)
    except BaseException:
        return _brokenText(obj, "repr")


class _FakeCode:
    """Enough of a code object for the stdlib ``traceback`` module."""

    co_argcount = co_posonlyargcount = co_kwonlyargcount = co_nlocals = 0
    co_stacksize = co_flags = co_firstlineno = 0
    co_code = co_lnotab = b""
    co_consts: tuple[Any, ...] = ()
    co_names: tuple[str, ...] = ()
    co_cellvars: tuple[str, ...] = ()
    co_freevars: tuple[str, ...] = ()

    def __init__(self, name: str, filename: str) -> None:
        self.co_name = name
        self.co_qualname = name
        self.co_filename = filename
        self.co_varnames: list[str] = []

    def co_positions(self) -> tuple[tuple[None, None, None, None], ...]:
        return ((None, None, None, None),)


class _FakeFrame:
    """A stand-in frame rebuilt from a ``Failure.frames`` entry."""

    f_lasti = 0
    f_trace = None

    def __init__(self, frame: Frame, back: _FakeFrame | None) -> None:
        self.f_code = _FakeCode(frame[0], frame[1])
        self.f_lineno = frame[2]
        self.f_locals = dict(frame[3] or ())
        self.f_globals = dict(frame[4] or ())
        self.f_back = back
        self.f_builtins: dict[str, Any] = {}


class _FakeTraceback:
    """A stand-in traceback entry, usable by ``traceback.extract_tb``."""

    def __init__(self, frame: _FakeFrame) -> None:
        self.tb_frame = frame
        self.tb_lineno = frame.f_lineno
        self.tb_lasti = frame.f_lasti
        self.tb_next: _FakeTraceback | None = None


def _fakeTraceback(frames: list[Frame]) -> _FakeTraceback:
    """Link stand-in tracebacks for ``frames`` (outermost first), without recursion."""
    frame = _FakeFrame(frames[0], None)
    first = last = _FakeTraceback(frame)
    for info in frames[1:]:
        frame = _FakeFrame(info, frame)
        last.tb_next = _FakeTraceback(frame)
        last = last.tb_next
    return first


def _reprVars(items: Any) -> list[tuple[str, str]]:
    return [(name, _safeRepr(value)) for name, value in items]


def format_frames(
    frames: list[Frame], write: Callable[[str], object], detail: str = "default"
) -> None:
    """Write ``frames`` in one of Twisted's layouts.

    Twisted: ``failure.format_frames``.

    Args:
        frames: ``(function, file, line, locals, globals)`` tuples.
        write: called with each piece of text.
        detail: ``'default'`` (like the interpreter), ``'brief'``
            (``file:line:function``), ``'verbose'`` (with variables) or
            ``'verbose-vars-not-captured'``.
    """
    if detail not in ("default", "brief", "verbose", "verbose-vars-not-captured"):
        raise ValueError(
            "Detail must be default, brief, verbose, or verbose-vars-not-captured."
            f" (not {detail!r})"
        )
    w = write
    if detail == "brief":
        for name, filename, lineno, _l, _g in frames:
            w(f"{filename}:{lineno}:{name}\n")
    elif detail == "default":
        for name, filename, lineno, _l, _g in frames:
            w(f'  File "{filename}", line {lineno}, in {name}\n')
            w(f"    {linecache.getline(filename, lineno).strip()}\n")
    elif detail == "verbose-vars-not-captured":
        for name, filename, lineno, _l, _g in frames:
            w(f"{filename}:{lineno}: {name}(...)\n")
        w(" [Capture of Locals and Globals disabled (use captureVars=True)]\n")
    else:
        for name, filename, lineno, localz, globalz in frames:
            w(f"{filename}:{lineno}: {name}(...)\n")
            w(" [ Locals ]\n")
            for key, val in localz:
                w(f"  {key} : {val!r}\n")
            w(" ( Globals )\n")
            for key, val in globalz:
                w(f"  {key} : {val!r}\n")
