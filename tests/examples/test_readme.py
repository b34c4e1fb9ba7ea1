"""The README's example program runs and prints what it promises."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_readme_example_runs() -> None:
    """The first Python block of the README echoes once and stops the reactor."""
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    code = block.group(1).replace("8000", str(port))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "server said: b'hello, world'\n"
