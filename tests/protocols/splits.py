"""Hypothesis strategies shared by the framing tests: streams and ways to cut them."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import strategies as st


def cut(data: bytes, points: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (taken modulo its length, sorted)."""
    if not data:
        return [data]
    offsets = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]


def splittings(data: bytes, points: list[int]) -> Iterator[list[bytes]]:
    """The three ways every parser test feeds a stream: whole, per byte, random cuts."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    yield cut(data, points)


cutPoints = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)
