"""torsion.python.lockfile: PID locks made of symbolic links."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from torsion.python.lockfile import FilesystemLock, isLocked


def deadPid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True
    )
    return int(done.stdout)


def test_lock_and_unlock(tmp_path: Any) -> None:
    """A free lock is taken cleanly, shows as locked, and is released."""
    name = str(tmp_path / "a.lock")
    lock = FilesystemLock(name)
    assert lock.lock()
    assert lock.clean and lock.locked
    assert isLocked(name)
    assert not FilesystemLock(name).lock()  # held by a live process (us)
    lock.unlock()
    assert not isLocked(name)
    assert not os.path.lexists(name)


def test_stale_lock_is_broken(tmp_path: Any) -> None:
    """A lock whose process is gone is taken over, with clean False."""
    name = str(tmp_path / "b.lock")
    os.symlink(str(deadPid()), name)
    assert not isLocked(name)
    lock = FilesystemLock(name)
    assert lock.lock()
    assert lock.clean is False
    lock.unlock()


def test_unlock_not_owned(tmp_path: Any) -> None:
    """Unlocking a lock held by another process (or none) raises ValueError."""
    name = str(tmp_path / "c.lock")
    with pytest.raises(ValueError):
        FilesystemLock(name).unlock()
    os.symlink("1", name)
    with pytest.raises(ValueError):
        FilesystemLock(name).unlock()


def test_foreign_file_is_not_a_lock(tmp_path: Any) -> None:
    """A link that is not a PID is left alone and counts as unlocked."""
    name = str(tmp_path / "d.lock")
    os.symlink("not-a-pid", name)
    assert not FilesystemLock(name).lock()
    assert not isLocked(name)
