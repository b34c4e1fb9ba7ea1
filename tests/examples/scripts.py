"""Run example programs as subprocesses, under torsion or (renamed) Twisted."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

EXAMPLES = Path(__file__).parents[2] / "examples"


class Script:
    """An example program running in a subprocess, read line by line with deadlines.

    ``framework='twisted'`` runs the same file with ``torsion`` imports renamed
    to ``twisted`` (the differential baseline).
    """

    def __init__(self, tmp: Path, name: str, framework: str, *args: str) -> None:
        source = (EXAMPLES / name).read_text()
        if framework == "twisted":
            source = source.replace("from torsion.", "from twisted.").replace(
                "from torsion ", "from twisted "
            )
        path = tmp / f"{framework}_{name}"
        path.write_text(source)
        self.framework = framework
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(path), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self._fd = self.proc.stdout.fileno()
        self._buffer = b""
        self.lines: list[str] = []

    def readLines(self, count: int, timeout: float = 20.0) -> list[str]:
        """Wait until ``count`` more lines were printed; return them."""
        want = len(self.lines) + count
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            while len(self.lines) < want:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{self.framework}: only {self.lines!r} within {timeout}s")
                if not sel.select(timeout=remaining):
                    continue
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise EOFError(
                        f"{self.framework}: exited after {self.lines!r}: {self.stderr()}"
                    )
                self._buffer += chunk
                *complete, self._buffer = self._buffer.split(b"\n")
                self.lines.extend(line.decode() for line in complete)
        return self.lines[want - count : want]

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit; return its exit code."""
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        assert self.proc.stderr is not None
        return self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)
