"""torsion.python.failure.Failure, checked rule by rule and against Twisted's Failure."""

from __future__ import annotations

import io
import pickle
import re
import sys
import traceback
from collections.abc import Callable, Generator
from typing import Any

import pytest
from twisted.python.failure import Failure as TFailure

from torsion.python import failure as failureModule
from torsion.python.failure import Failure, NoCurrentExceptionError

LIBS = {"torsion": Failure, "twisted": TFailure}


class AppError(Exception):
    """An application exception with a module-qualified name."""


class Outer:
    class Nested(Exception):
        """A nested exception class (its Twisted qualified name skips Outer)."""


def raiser(exc: BaseException) -> None:
    helper = "local value"  # noqa: F841 - shows up in captured locals
    raise exc


def capture(F: Any, exc: BaseException, captureVars: bool = False) -> Any:
    """A Failure of ``exc`` raised two frames down, captured in the except clause."""
    try:
        raiser(exc)
    except BaseException:
        return F(captureVars=captureVars)
    raise AssertionError("unreachable")


def normalise(text: str) -> str:
    """Make Twisted and torsion output comparable: module path and serial numbers."""
    text = text.replace("twisted.python.failure.Failure", "FAILURE")
    text = text.replace("torsion.python.failure.Failure", "FAILURE")
    return re.sub(r"Failure #\d+", "Failure #N", text)


def both(make: Callable[[Any], Any]) -> tuple[Any, Any]:
    """Evaluate ``make(FailureClass)`` for torsion and Twisted."""
    return make(Failure), make(TFailure)


# -- construction -------------------------------------------------------------------


def test_captures_current_exception_with_traceback() -> None:
    """Failure() in an except clause captures type, value and traceback."""
    f = capture(Failure, ValueError("v"))
    assert f.type is ValueError and isinstance(f.value, ValueError)
    assert f.tb is not None
    assert [frame[0] for frame in f.frames] == ["capture", "raiser"]


def test_no_current_exception() -> None:
    """Failure() outside an except clause raises NoCurrentExceptionError."""
    with pytest.raises(NoCurrentExceptionError):
        Failure()


def test_from_exception_value_and_explicit_type_and_tb() -> None:
    """Failure(value), Failure(value, type) and Failure(value, type, tb)."""
    plain = Failure(KeyError("k"))
    assert plain.type is KeyError and plain.tb is None and plain.frames == []
    typed = Failure(KeyError("k"), LookupError)
    assert typed.type is LookupError
    try:
        raiser(ValueError())
    except ValueError as e:
        tb = e.__traceback__
    withTb = Failure(ValueError("other"), ValueError, tb)
    assert withTb.tb is tb and withTb.frames[-1][0] == "raiser"


def test_exception_traceback_is_used() -> None:
    """An exception caught earlier keeps its __traceback__ in the Failure."""
    try:
        raiser(KeyError())
    except KeyError as e:
        caught = e
    assert Failure(caught).frames[-1][0] == "raiser"


def test_failure_of_failure_copies_it() -> None:
    """Failure(aFailure) copies the other one's state."""
    f = capture(Failure, ValueError("inner"))
    g = Failure(f)
    assert g.value is f.value and g.tb is f.tb and g.count == f.count


def test_non_exception_value() -> None:
    """Arbitrary objects are accepted as the value, as in Twisted."""
    f, t = both(lambda F: F("just a string"))
    assert f.type is str and f.getErrorMessage() == "just a string"
    assert f.parents == t.parents == [str]


# -- check / trap -------------------------------------------------------------------------


CHECKS: list[tuple[BaseException, list[Any]]] = [
    (ValueError("x"), [ValueError, Exception, BaseException, KeyError]),
    (ValueError("x"), ["builtins.ValueError", "builtins.Exception", "ValueError"]),
    (AppError(), [AppError, "tests.python.test_failure.AppError", "test_failure.AppError"]),
    (Outer.Nested(), [Outer.Nested, "tests.python.test_failure.Nested"]),
    (Outer.Nested(), ["tests.python.test_failure.Outer.Nested"]),
    (KeyboardInterrupt(), [KeyboardInterrupt, BaseException, "builtins.KeyboardInterrupt"]),
    (SystemExit(2), [SystemExit, BaseException]),
    (KeyError(), [LookupError, "builtins.LookupError", IndexError]),
]


@pytest.mark.parametrize("exc,candidates", CHECKS)
def test_check_matches_twisted(exc: BaseException, candidates: list[Any]) -> None:
    """check() with classes and qualified names gives what Twisted's gives, one by one."""
    f, t = both(lambda F: F(exc))
    assert f.parents == t.parents
    for candidate in candidates:
        assert f.check(candidate) == t.check(candidate), candidate
    assert f.check(*candidates) == t.check(*candidates)


def test_check_returns_first_match_or_none() -> None:
    """check() returns the first matching argument, None when nothing matches."""
    f = Failure(KeyError())
    assert f.check(IndexError, LookupError, KeyError) is LookupError
    assert f.check(IndexError) is None


def test_trap_returns_match_and_reraises_original() -> None:
    """trap() returns the match; otherwise it raises the original exception object."""
    exc = ValueError("original")
    f = Failure(exc)
    assert f.trap(KeyError, ValueError) is ValueError
    with pytest.raises(ValueError) as info:
        f.trap(KeyError)
    assert info.value is exc


# -- raising -----------------------------------------------------------------------------


def test_raiseException_keeps_traceback() -> None:
    """raiseException() raises the value with the original traceback."""
    f = capture(Failure, KeyError("k"))
    with pytest.raises(KeyError) as info:
        f.raiseException()
    names = [entry.name for entry in traceback.extract_tb(info.value.__traceback__)]
    assert names[-2:] == ["capture", "raiser"]


def test_throwExceptionIntoGenerator() -> None:
    """The exception is raised inside the generator; its next value is returned."""

    def gen() -> Generator[str, None, None]:
        try:
            yield "first"
        except KeyError as e:
            yield f"caught {e.args[0]}"

    g = gen()
    next(g)
    assert Failure(KeyError("k")).throwExceptionIntoGenerator(g) == "caught k"
    with pytest.raises(ValueError):
        Failure(ValueError()).throwExceptionIntoGenerator(gen())


# -- messages and tracebacks -------------------------------------------------------------------


def test_getErrorMessage() -> None:
    """getErrorMessage is str(value), never raising; bytes are decoded."""

    class BrokenStr(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    assert Failure(ValueError("msg")).getErrorMessage() == "msg"
    broken, tbroken = both(lambda F: F(BrokenStr()).getErrorMessage())
    assert broken.startswith("<BrokenStr instance at 0x") and "with str error" in broken
    assert tbroken.startswith("<BrokenStr instance at 0x")
    assert Failure(ValueError(b"bytes")).getErrorMessage() == "b'bytes'"
    assert Failure(b"caf\xc3\xa9", bytes).getErrorMessage() == "café"
    inner = Failure(KeyError("inner"))
    assert Failure(inner, KeyError).getErrorMessage() == "'inner'"


@pytest.mark.parametrize("detail", ["default", "brief", "verbose"])
@pytest.mark.parametrize("captureVars", [False, True])
def test_traceback_shapes_match_twisted(detail: str, captureVars: bool) -> None:
    """getTraceback in every detail level is Twisted's text (module name aside)."""
    f, t = both(lambda F: capture(F, AppError("shape"), captureVars))
    assert normalise(f.getTraceback(detail=detail)) == normalise(t.getTraceback(detail=detail))


def test_traceback_without_frames_matches_twisted() -> None:
    """A Failure with no traceback prints Twisted's 'Failure:' form."""
    f, t = both(lambda F: F(KeyError("none")))
    for detail in ("default", "brief", "verbose"):
        assert normalise(f.getTraceback(detail=detail)) == normalise(t.getTraceback(detail=detail))
    assert f.getBriefTraceback() == t.getBriefTraceback()


def test_default_traceback_shape() -> None:
    """The default form looks like the interpreter's traceback."""
    text = capture(Failure, AppError("boom")).getTraceback()
    lines = text.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "tests.python.test_failure.AppError: boom"
    assert "    raise exc" in lines


def test_brief_traceback_shape() -> None:
    """The brief form is a header and file:line:function lines."""
    lines = capture(Failure, AppError("b")).getBriefTraceback().splitlines()
    assert lines[0] == "Traceback: <class 'tests.python.test_failure.AppError'>: b"
    assert lines[-1].endswith(":raiser")


def test_str_and_repr_match_twisted() -> None:
    """repr and str have Twisted's shape."""
    f, t = both(lambda F: capture(F, AppError("r")))
    assert normalise(repr(f)) == normalise(repr(t))
    assert repr(f) == "<torsion.python.failure.Failure tests.python.test_failure.AppError: r>"
    assert str(f) == str(t)


def test_chained_failure_printing_matches_twisted() -> None:
    """A Failure whose value is a Failure prints both."""

    def chained(F: Any) -> Any:
        outer = F(KeyError("outer"))
        outer.value = F(KeyError("inner"))
        return outer

    f, t = both(chained)
    assert normalise(f.getTraceback()) == normalise(t.getTraceback())
    assert f.getErrorMessage() == t.getErrorMessage() == "'inner'"
    assert "(chained Failure)" in f.getTraceback()


def test_printTraceback_default_goes_to_the_log(logged_errors: Any) -> None:
    """printTraceback() without a file writes to the log as errors, like Twisted."""
    Failure(KeyError("to log")).printTraceback()
    messages = [r.getMessage() for r in logged_errors.records]
    assert any("KeyError" in m for m in messages)
    logged_errors.flush()


def test_printTraceback_bad_detail() -> None:
    """An unknown detail level is a ValueError when there are frames."""
    with pytest.raises(ValueError):
        capture(Failure, KeyError()).printTraceback(io.StringIO(), detail="nope")


def test_format_frames() -> None:
    """format_frames writes each layout and rejects unknown ones."""
    frames = [("fn", "file.py", 3, [("a", 1)], [("g", 2)])]
    out: list[str] = []
    failureModule.format_frames(frames, out.append, "brief")
    assert out == ["file.py:3:fn\n"]
    out.clear()
    failureModule.format_frames(frames, out.append, "verbose")
    assert "".join(out) == "file.py:3: fn(...)\n [ Locals ]\n  a : 1\n ( Globals )\n  g : 2\n"
    with pytest.raises(ValueError):
        failureModule.format_frames(frames, out.append, "other")


# -- cleanFailure, tracebacks objects, pickling ---------------------------------------------------


def test_cleanFailure_matches_twisted() -> None:
    """cleanFailure drops the traceback object but keeps what is needed to print."""
    f, t = both(lambda F: capture(F, AppError("clean"), captureVars=True))
    before = f.getTraceback()
    f.cleanFailure()
    t.cleanFailure()
    assert f.tb is None and f.value.__traceback__ is None
    assert f.pickled == t.pickled == 1
    assert f.getTraceback() == before
    assert normalise(f.getTraceback(detail="verbose")) == normalise(
        t.getTraceback(detail="verbose")
    )
    assert f.frames[-1][3] == t.frames[-1][3]  # locals as (name, repr) pairs


def test_getTracebackObject_live_and_rebuilt() -> None:
    """The traceback object is the live one, or a stand-in rebuilt from frames."""
    f = capture(Failure, KeyError("tb"))
    assert f.getTracebackObject() is f.tb
    expected = [(e.filename, e.lineno, e.name) for e in traceback.extract_tb(f.tb)]
    f.cleanFailure()
    rebuilt = f.getTracebackObject()
    assert [(e.filename, e.lineno, e.name) for e in traceback.extract_tb(rebuilt)] == expected
    assert Failure(KeyError()).getTracebackObject() is None


def test_rebuilt_traceback_of_deep_stack() -> None:
    """Rebuilding a traceback of thousands of frames does not recurse."""

    def deep(n: int) -> None:
        if n == 0:
            raise KeyError("deep")
        deep(n - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(5000)
    try:
        try:
            deep(3000)
        except KeyError:
            f = Failure()
    finally:
        sys.setrecursionlimit(limit)
    f.cleanFailure()
    assert len(traceback.extract_tb(f.getTracebackObject())) == len(f.frames) > 3000


def test_pickle_roundtrip() -> None:
    """A pickled Failure keeps type, value, frames and parents, without a traceback."""
    f = capture(Failure, AppError("pickled"))
    g = pickle.loads(pickle.dumps(f))
    assert isinstance(g, Failure)
    assert g.type is AppError and g.value.args == ("pickled",)
    assert g.tb is None and g.pickled == 1
    assert g.frames == f.frames and g.parents == f.parents
    assert g.getTraceback() == f.getTraceback()
    assert g.check(AppError)


def test_pickled_state_has_twisteds_keys() -> None:
    """__getstate__ gives the same keys as Twisted's (so the shape is compatible)."""
    f, t = both(lambda F: capture(F, AppError("s"), captureVars=True))
    mine, theirs = f.__getstate__(), t.__getstate__()
    assert set(mine) == set(theirs)
    assert [f[:3] for f in mine["frames"]] == [f[:3] for f in theirs["frames"]]
    assert mine["frames"][-1][3] == theirs["frames"][-1][3]  # raiser's locals, as reprs
    assert mine["parents"] == theirs["parents"]
    assert mine["stack"] == theirs["stack"] == []


def test_pickle_with_captured_vars_uses_reprs() -> None:
    """Captured variables are pickled as their reprs."""
    f = capture(Failure, KeyError("v"), captureVars=True)
    g = pickle.loads(pickle.dumps(f))
    localsOfRaiser = dict(g.frames[-1][3])
    assert localsOfRaiser["helper"] == "'local value'"


def test_withoutTraceback_and_serial_numbers() -> None:
    """Failures are numbered; the fast constructor makes a usable Failure."""
    a = Failure(KeyError())
    b = Failure._withoutTraceback(ValueError("fast"))
    assert b.count > a.count
    assert b.check(ValueError) and b.tb is None and b.getErrorMessage() == "fast"
    assert isinstance(b, BaseException)


def test_stack_is_empty() -> None:
    """The legacy stack attribute is always empty."""
    assert capture(Failure, KeyError()).stack == []
