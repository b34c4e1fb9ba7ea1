"""The seed program prints what Twisted prints, in the same order.

``examples/seed.py`` is the user's seed document ported to Python 3 with its
imports renamed to torsion.  The same file with the imports renamed back to
``twisted`` runs on Twisted; both run as subprocesses against the same kind of
local server and their normalised outputs must be identical.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.scripts import Script

pytest.importorskip("twisted")


def greetAndClose(listener: socket.socket, stop: threading.Event) -> None:
    """Accept connections; greet each with one line, then close it."""
    listener.settimeout(0.1)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            return
        with conn:
            conn.sendall(b"hello\n")
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(5)
            try:
                while conn.recv(1024):
                    pass
            except OSError:
                pass


@pytest.fixture
def greeter() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    stop = threading.Event()
    thread = threading.Thread(target=greetAndClose, args=(listener, stop), daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def runSeed(tmp_path: Path, framework: str, port: int, lines: int) -> list[str]:
    """Run the seed with ``framework``'s imports until it printed ``lines`` lines."""
    script = Script(tmp_path, "seed.py", framework, str(port))
    try:
        return script.readLines(lines)
    finally:
        script.close()


def normalise(lines: list[str], port: int) -> list[str]:
    text = "\n".join(lines)
    text = text.replace("torsion", "twisted")
    text = re.sub(r"0x[0-9a-f]+", "ADDR", text)
    text = re.sub(r" at [0-9a-f]+>", " at ADDR>", text)
    return text.replace(str(port), "PORT").splitlines()


def test_seed_against_echo_server(tmp_path: Path, greeter: int) -> None:
    """Connect, receive, close: same lines as Twisted, including the Failure reason."""
    ours = runSeed(tmp_path, "torsion", greeter, 10)
    theirs = runSeed(tmp_path, "twisted", greeter, 10)
    assert normalise(ours, greeter) == normalise(theirs, greeter)
    assert ours[2] == "connection made"
    assert "ConnectionDone" in ours[5] and "closed cleanly" in ours[5] and ours[6] == "]"


def test_seed_connection_refused(tmp_path: Path) -> None:
    """Nothing listening: same connector and Failure lines as Twisted."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    ours = runSeed(tmp_path, "torsion", port, 4)
    theirs = runSeed(tmp_path, "twisted", port, 4)
    assert normalise(ours, port) == normalise(theirs, port)
    assert "ConnectionRefusedError" in ours[2]
