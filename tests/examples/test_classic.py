"""Twisted's classic examples run on torsion after renaming their imports."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.examples.scripts import Script

pytest.importorskip("twisted")


@pytest.fixture
def scripts(tmp_path: Path) -> Iterator[list[Script]]:
    started: list[Script] = []
    try:
        yield started
    finally:
        for script in started:
            script.close()


def start(scripts: list[Script], tmp: Path, name: str, framework: str, *args: str) -> Script:
    script = Script(tmp, name, framework, *args)
    scripts.append(script)
    return script


@pytest.mark.parametrize(
    ("server", "client"),
    [("torsion", "torsion"), ("torsion", "twisted"), ("twisted", "torsion")],
)
def test_echo_server_and_client(
    tmp_path: Path, scripts: list[Script], server: str, client: str
) -> None:
    """The echo client prints the same lines against either server, on either framework."""
    srv = start(scripts, tmp_path, "echoserv.py", server, "0")
    port = srv.readLines(1)[0].split()[-1]
    cli = start(scripts, tmp_path, "echoclient.py", client, port)
    assert cli.readLines(3) == [
        "Server said: b'hello, world!'",
        "connection lost",
        "Connection lost - goodbye!",
    ]
    assert cli.wait() == 0


def test_echo_client_connection_failed(tmp_path: Path, scripts: list[Script]) -> None:
    """With no server, the client reports the failure and stops, like Twisted's."""
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = str(probe.getsockname()[1])
    probe.close()
    ours = start(scripts, tmp_path, "echoclient.py", "torsion", port)
    theirs = start(scripts, tmp_path, "echoclient.py", "twisted", port)
    assert ours.readLines(1) == theirs.readLines(1) == ["Connection failed - goodbye!"]
    assert ours.wait() == theirs.wait() == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_reactor_cleanly(
    tmp_path: Path, scripts: list[Script], signum: signal.Signals
) -> None:
    """SIGTERM/SIGINT run the shutdown triggers and make run() return (exit code 0)."""
    srv = start(scripts, tmp_path, "echoserv.py", "torsion", "0")
    srv.readLines(1)
    srv.proc.send_signal(signum)
    assert srv.readLines(1) == ["shutting down"]
    assert srv.wait() == 0
    assert "Traceback" not in srv.stderr()


def _chatSession(port: int) -> list[bytes]:
    """Two users join; alice talks; bob answers; a third picks a taken name."""
    import socket

    def client() -> tuple[socket.socket, Any]:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        return sock, sock.makefile("rb")

    transcript: list[bytes] = []
    alice, aliceIn = client()
    transcript.append(aliceIn.readline())
    alice.sendall(b"alice\r\n")
    transcript.append(aliceIn.readline())
    bob, bobIn = client()
    transcript.append(bobIn.readline())
    bob.sendall(b"bob\r\n")
    transcript.append(bobIn.readline())
    alice.sendall(b"hello bob\r\n")
    transcript.append(bobIn.readline())
    bob.sendall(b"hi alice\r\n")
    transcript.append(aliceIn.readline())
    eve, eveIn = client()
    transcript.append(eveIn.readline())
    eve.sendall(b"alice\r\n")
    transcript.append(eveIn.readline())
    for sock, f in ((alice, aliceIn), (bob, bobIn), (eve, eveIn)):
        f.close()
        sock.close()
    return transcript


@pytest.mark.parametrize("framework", ["torsion", "twisted"])
def test_chat_server(tmp_path: Path, scripts: list[Script], framework: str) -> None:
    """The classic chat server greets, relays between users and refuses taken names."""
    srv = start(scripts, tmp_path, "chatserver.py", framework, "0")
    port = int(srv.readLines(1)[0].split()[-1])
    assert _chatSession(port) == [
        b"What's your name?\r\n",
        b"Welcome, alice!\r\n",
        b"What's your name?\r\n",
        b"Welcome, bob!\r\n",
        b"<alice> hello bob\r\n",
        b"<bob> hi alice\r\n",
        b"What's your name?\r\n",
        b"Name taken, please choose another.\r\n",
    ]
