"""A PID lock file made of a symbolic link.

Twisted: ``twisted.python.lockfile``.  ``FilesystemLock(name).lock()``
creates the symbolic link ``name`` pointing to the current process id.
Creating a symbolic link is atomic, so only one process can hold the lock.
A lock whose holder no longer exists is stale: it is broken and taken over,
and :attr:`FilesystemLock.clean` is False so the new holder knows to tidy
up after its predecessor (e.g. remove a stale UNIX socket).
"""

from __future__ import annotations

import errno
import os

__all__ = ["FilesystemLock", "isLocked"]


def _pidAlive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FilesystemLock:
    """A lock held by one process at a time. Twisted: ``lockfile.FilesystemLock``.

    Attributes:
        name: the path of the lock link.
        clean: False if the last ``lock()`` broke a stale lock.
        locked: whether this object holds the lock.
    """

    clean: bool | None = None
    locked = False

    def __init__(self, name: str) -> None:
        self.name = name

    def lock(self) -> bool:
        """Take the lock; False if a live process holds it."""
        clean = True
        while True:
            try:
                os.symlink(str(os.getpid()), self.name)
            except FileExistsError:
                try:
                    pid = int(os.readlink(self.name))
                except FileNotFoundError:
                    continue  # released meanwhile: try again
                except (OSError, ValueError):
                    return False  # not one of our locks
                if _pidAlive(pid):
                    return False
                # Stale (its process is gone): break it and retry.
                try:
                    os.unlink(self.name)
                except FileNotFoundError:
                    pass
                clean = False
                continue
            self.locked = True
            self.clean = clean
            return True

    def unlock(self) -> None:
        """Release the lock.

        Raises:
            ValueError: if this process does not hold it.
        """
        try:
            pid = int(os.readlink(self.name))
        except (OSError, ValueError) as e:
            raise ValueError(f"Lock {self.name!r} not owned by this process") from e
        if pid != os.getpid():
            raise ValueError(f"Lock {self.name!r} not owned by this process")
        os.unlink(self.name)
        self.locked = False


def isLocked(name: str) -> bool:
    """Whether a live process holds the lock ``name``. Twisted: ``lockfile.isLocked``."""
    try:
        pid = int(os.readlink(name))
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.EINVAL):
            return False
        raise
    except ValueError:
        return False
    return _pidAlive(pid)
