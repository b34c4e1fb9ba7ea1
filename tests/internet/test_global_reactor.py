"""The global reactor: created lazily, never as an import side effect."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_importing_modules_creates_no_reactor() -> None:
    """Importing torsion's modules neither creates the reactor nor an event loop."""
    out = run(
        """
        import asyncio, sys
        import torsion.internet.protocol, torsion.internet.defer, torsion.internet.tcp
        import torsion.internet.testing, torsion.internet.task, torsion.python.log
        import torsion.web
        print("torsion.internet.reactor" in sys.modules)
        """
    )
    assert out == "False"


def test_reactor_import_gives_asyncio_reactor() -> None:
    """`from torsion.internet import reactor` gives one AsyncioReactor, same object twice."""
    out = run(
        """
        from torsion.internet import reactor
        import torsion.internet.reactor as again
        from torsion.internet.asyncioreactor import AsyncioReactor
        print(type(reactor).__name__, reactor is again)
        reactor.callWhenRunning(reactor.stop)
        reactor.run()
        print(reactor.loop.is_closed())
        """
    )
    assert out.splitlines() == ["AsyncioReactor True", "True"]


def test_install_before_first_use() -> None:
    """asyncioreactor.install(loop) picks the loop; a second install is refused."""
    out = run(
        """
        import asyncio
        from torsion.internet import asyncioreactor, error
        loop = asyncio.new_event_loop()
        installed = asyncioreactor.install(loop)
        from torsion.internet import reactor
        print(reactor is installed, reactor.loop is loop)
        try:
            asyncioreactor.install()
        except error.ReactorAlreadyInstalledError:
            print("refused")
        """
    )
    assert out.splitlines() == ["True True", "refused"]


def test_torsion_loop_environment_variable() -> None:
    """TORSION_LOOP selects the loop implementation."""
    code = """
        from torsion.internet import reactor
        print(type(reactor.loop).__module__.split(".")[0])
    """
    for name, expected in [("asyncio", "asyncio"), ("uvloop", "uvloop")]:
        out = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={"TORSION_LOOP": name, "PATH": ""},
        ).stdout.strip()
        assert out == expected
