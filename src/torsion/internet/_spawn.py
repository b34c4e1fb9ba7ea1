"""Child-side set-up for :mod:`torsion.internet.process`: laying out file
descriptors, signal dispositions, the controlling terminal, exit reasons."""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from typing import Any

from torsion.internet import error

__all__ = ["applyPlan", "exitReason", "fdPlan", "ignoredSignals", "takeTerminal"]


def openFds() -> list[int]:
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            return sorted(int(name) for name in os.listdir(directory))
        except OSError:
            continue
    return list(range(256))


def fdPlan(fdmap: Mapping[int, int]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """File actions putting parent fd ``fdmap[c]`` at child fd ``c``.

    Every source is first copied above all fds involved, then copied to its
    target, so overlapping sources and targets (``{1: 2, 2: 1}``, or a
    descriptor kept at its own number) cannot clobber each other.  Open,
    inheritable descriptors not in the map are closed.

    Returns:
        ``(actions, targets)`` where an action is ``("dup2", src, dst)`` or
        ``("close", fd)``.
    """
    items = sorted(fdmap.items())
    top = max([0, *fdmap.keys(), *fdmap.values()])
    actions: list[tuple[Any, ...]] = []
    temps = {}
    for offset, (child, parent) in enumerate(items, start=1):
        temps[child] = top + offset
        actions.append(("dup2", parent, top + offset))
    for child, _ in items:
        actions.append(("dup2", temps[child], child))
    for child, _ in items:
        actions.append(("close", temps[child]))
    for fd in openFds():
        if fd in fdmap or fd in temps.values():
            continue
        try:
            inheritable = os.get_inheritable(fd)
        except OSError:
            continue
        if inheritable or fd <= 2:
            actions.append(("close", fd))
    return actions, list(fdmap)


def applyPlan(actions: list[tuple[Any, ...]]) -> None:  # pragma: no cover - child
    """Run the plan in a forked child (``preexec_fn``)."""
    for action in actions:
        if action[0] == "dup2":
            os.dup2(action[1], action[2])
        else:
            try:
                os.close(action[1])
            except OSError:
                pass


def ignoredSignals() -> list[int]:
    ignored = []
    for number in range(1, signal.NSIG):
        try:
            if signal.getsignal(number) == signal.SIG_IGN:
                ignored.append(number)
        except (ValueError, OSError):
            continue
    return ignored


def exitReason(status: int) -> BaseException:
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        if code == 0:
            return error.ProcessDone(status)
        return error.ProcessTerminated(code, None, status)
    return error.ProcessTerminated(None, os.WTERMSIG(status), status)


def takeTerminal() -> None:
    """In the child: make stdin (the terminal) the controlling terminal."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
