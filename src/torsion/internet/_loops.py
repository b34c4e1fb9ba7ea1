"""Choosing the asyncio event loop implementation.

uvloop is the default where it imports; ``TORSION_LOOP=asyncio|uvloop``
overrides the choice (``auto`` is the default).
"""

from __future__ import annotations

import asyncio
import os
import socket

__all__ = ["lookupIPv4", "loopName", "newEventLoop"]


def newEventLoop(impl: str | None = None) -> asyncio.AbstractEventLoop:
    """Create a new event loop.

    Args:
        impl: ``'uvloop'``, ``'asyncio'`` or ``'auto'``; defaults to the
            ``TORSION_LOOP`` environment variable, then ``'auto'``.

    Raises:
        ValueError: for an unknown name.
        ImportError: when ``'uvloop'`` is asked for and is not installed.
    """
    choice = (impl or os.environ.get("TORSION_LOOP") or "auto").strip().lower()
    if choice not in ("auto", "uvloop", "asyncio"):
        raise ValueError(f"TORSION_LOOP must be 'auto', 'uvloop' or 'asyncio', not {choice!r}")
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise
        else:
            return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def loopName(loop: asyncio.AbstractEventLoop) -> str:
    """``'uvloop'`` or ``'asyncio'`` for a loop object (for logs and benchmarks)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


async def lookupIPv4(loop: asyncio.AbstractEventLoop, name: str, port: int | None = None) -> str:
    """The first IPv4 address of ``name``, resolved by ``loop``.

    Raises:
        DNSLookupError: when the name does not resolve (Twisted's error type).
    """
    from torsion.internet.error import DNSLookupError

    try:
        infos = await loop.getaddrinfo(name, port, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise DNSLookupError(f"address {name!r} not found: {e}") from None
    if not infos:
        raise DNSLookupError(f"address {name!r} not found")
    return str(infos[0][4][0])
