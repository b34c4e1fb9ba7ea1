"""Differential tests: connector/factory/protocol callback traces equal Twisted's.

The scenarios live in ``trace_scenarios.py``; Twisted runs them in a
subprocess (its reactor is a process-wide global), torsion runs them here on
both event loops, and the traces must be identical.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.internet.trace_scenarios import SCENARIOS, runScenario
from tests.support import runUntil
from torsion.internet import defer, protocol

pytest.importorskip("twisted")


@pytest.fixture(scope="module")
def twistedTraces() -> dict[str, list[str]]:
    script = Path(__file__).with_name("trace_scenarios.py")
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    return dict(json.loads(out.stdout))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_trace_matches_twisted(
    scenario: str, reactor: Any, twistedTraces: dict[str, list[str]], logged_errors: Any
) -> None:
    """The callback sequence of each connection scenario is exactly Twisted's."""
    trace = runUntil(reactor, runScenario(scenario, reactor, protocol, defer))
    if scenario == "connection_made_raises":
        assert len(logged_errors.flush(ValueError)) == 1
    assert trace == twistedTraces[scenario]
