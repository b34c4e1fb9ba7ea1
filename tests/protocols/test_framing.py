"""The sans-IO framing core: lines, netstrings, length prefixes."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.protocols.helpers import cutPoints, splittings
from torsion.protocols._framing import (
    LengthLimitExceeded,
    LineBuffer,
    NetstringParseError,
    NetstringParser,
    PrefixedStringParser,
    encodeNetstring,
)

delimiters = st.sampled_from([b"\r\n", b"\n", b"ab", b"aba", b"\x00"])
streamBytes = st.binary(max_size=300) | st.lists(
    st.sampled_from([b"a", b"b", b"\r", b"\n", b"\r\n", b"xyz", b"\x00"]), max_size=80
).map(b"".join)


def feedLines(delimiter: bytes, chunks: list[bytes]) -> tuple[list[bytes], bytes]:
    buf = LineBuffer(delimiter)
    lines = []
    for chunk in chunks:
        lines.extend(buf.feed(chunk))
    return lines, buf.takeAll()


@settings(max_examples=300)
@given(delimiter=delimiters, data=streamBytes, points=cutPoints)
def test_lines_same_for_every_split(delimiter: bytes, data: bytes, points: list[int]) -> None:
    """Lines and leftover are those of bytes.split, however the stream is cut."""
    *expected, rest = data.split(delimiter)
    for chunks in splittings(data, points):
        assert feedLines(delimiter, chunks) == (expected, rest)


@settings(max_examples=200)
@given(delimiter=delimiters, data=streamBytes, points=cutPoints)
def test_nextline_matches_feed(delimiter: bytes, data: bytes, points: list[int]) -> None:
    """append() + nextLine() until None yields what feed() returns."""
    for chunks in splittings(data, points):
        buf = LineBuffer(delimiter)
        got = []
        for chunk in chunks:
            buf.append(chunk)
            while (line := buf.nextLine()) is not None:
                got.append(line)
        assert got == data.split(delimiter)[:-1]
        assert buf.tailSize() == len(data.split(delimiter)[-1])


@settings(max_examples=200)
@given(
    old=delimiters,
    new=delimiters,
    data=streamBytes,
    taken=st.integers(min_value=0, max_value=5),
)
def test_set_delimiter_resplits_what_is_left(
    old: bytes, new: bytes, data: bytes, taken: int
) -> None:
    """After setDelimiter, the unconsumed bytes are split with the new delimiter."""
    buf = LineBuffer(old)
    buf.append(data)
    consumed = b""
    for _ in range(taken):
        line = buf.nextLine()
        if line is None:
            break
        consumed += line + old
    rest = data[len(consumed) :]
    buf.setDelimiter(new)
    assert buf.delimiter == new
    got = []
    while (line := buf.nextLine()) is not None:
        got.append(line)
    assert got == rest.split(new)[:-1]
    assert buf.takeAll() == rest.split(new)[-1]


@given(data=streamBytes, taken=st.integers(min_value=0, max_value=5))
def test_takeall_returns_exactly_the_unconsumed_bytes(data: bytes, taken: int) -> None:
    """takeAll() gives back every unconsumed byte, delimiters included, and empties."""
    buf = LineBuffer(b"\n")
    buf.append(data)
    consumed = 0
    for _ in range(taken):
        line = buf.nextLine()
        if line is None:
            break
        consumed += len(line) + 1
    assert buf.bufferedSize() == len(data) - consumed
    assert buf.takeAll() == data[consumed:]
    assert buf.bufferedSize() == 0
    assert buf.nextLine() is None


def test_empty_delimiter_is_refused() -> None:
    """An empty delimiter raises ValueError (it would match everywhere)."""
    with pytest.raises(ValueError):
        LineBuffer(b"")
    with pytest.raises(ValueError):
        LineBuffer().setDelimiter(b"")


def test_delimiter_split_across_chunks() -> None:
    """A delimiter cut in two between chunks is still found."""
    buf = LineBuffer(b"\r\n")
    assert buf.feed(b"abc\r") == []
    assert buf.feed(b"\ndef\r") == [b"abc"]
    assert buf.feed(b"") == []
    assert buf.feed(b"\n") == [b"def"]


# -- length-prefixed strings ---------------------------------------------------

prefixFormats = st.sampled_from(["!B", "!H", "!I", "<I", "!Q"])


def prefixed(fmt: str, strings: list[bytes]) -> bytes:
    return b"".join(struct.pack(fmt, len(s)) + s for s in strings)


@settings(max_examples=300)
@given(
    fmt=prefixFormats,
    strings=st.lists(st.binary(max_size=255), max_size=12),
    points=cutPoints,
)
def test_prefixed_same_for_every_split(fmt: str, strings: list[bytes], points: list[int]) -> None:
    """Every string comes out once, in order, however the stream is cut."""
    data = prefixed(fmt, strings)
    for chunks in splittings(data, points):
        parser = PrefixedStringParser(fmt)
        got = []
        for chunk in chunks:
            got.extend(parser.feed(chunk, 255))
        assert got == strings
        assert parser.bufferedSize() == 0


@settings(max_examples=200)
@given(
    strings=st.lists(st.binary(max_size=40), max_size=8),
    tooLong=st.integers(min_value=11, max_value=2**32 - 1),
    points=cutPoints,
)
def test_prefixed_limit_reported_at_the_same_place(
    strings: list[bytes], tooLong: int, points: list[int]
) -> None:
    """Strings before an oversized prefix come out; then the prefix is reported."""
    good = [s for s in strings if len(s) <= 10]
    data = prefixed("!I", good) + struct.pack("!I", tooLong) + b"payload"
    for chunks in splittings(data, points):
        parser = PrefixedStringParser("!I")
        got: list[bytes] = []
        reported = None
        for chunk in chunks:
            parser.append(chunk)
            try:
                while (s := parser.nextString(10)) is not None:
                    got.append(s)
            except LengthLimitExceeded as e:
                reported = e.length
                break
        assert got == good
        assert reported == tooLong


def test_prefixed_limit_is_sticky_and_memory_bounded() -> None:
    """After a limit violation only the prefix is kept; asking again raises again."""
    parser = PrefixedStringParser("!H")
    parser.append(struct.pack("!H", 500) + b"x" * 300)
    with pytest.raises(LengthLimitExceeded):
        parser.nextString(100)
    parser.discardAfterPrefix(100)
    assert parser.bufferedSize() == 2
    for _ in range(100):
        parser.append(b"y" * 1000)
        with pytest.raises(LengthLimitExceeded) as e:
            parser.nextString(100)
        assert e.value.length == 500
        parser.discardAfterPrefix(100)
        assert parser.bufferedSize() == 2


def test_prefixed_negative_length_is_a_limit_violation() -> None:
    """A signed prefix holding a negative length is reported, never parsed."""
    parser = PrefixedStringParser("!i")
    parser.append(struct.pack("!i", -5) + b"abc")
    with pytest.raises(LengthLimitExceeded) as e:
        parser.nextString(100)
    assert e.value.length == -5


def test_prefixed_peek_and_replace() -> None:
    """peek() shows the unconsumed bytes; replace() swaps them."""
    parser = PrefixedStringParser("!B")
    parser.append(b"\x01a\x02b")
    assert parser.nextString(10) == b"a"
    parser.append(b"c\x01")
    assert parser.peek() == b"\x02bc\x01"
    parser.replace(b"\x01z")
    assert parser.nextString(10) == b"z"
    assert parser.nextString(10) is None


# -- netstrings ------------------------------------------------------------------


@settings(max_examples=300)
@given(strings=st.lists(st.binary(max_size=120), max_size=10), points=cutPoints)
def test_netstrings_same_for_every_split(strings: list[bytes], points: list[int]) -> None:
    """Every netstring comes out once, in order, however the stream is cut."""
    data = b"".join(encodeNetstring(s) for s in strings)
    for chunks in splittings(data, points):
        parser = NetstringParser()
        got = []
        for chunk in chunks:
            got.extend(parser.feed(chunk, 120))
        assert got == strings
        assert not parser.broken


def netstringError(data: bytes, maxLength: int = 99999) -> tuple[list[bytes], bool]:
    """Feed ``data`` byte by byte; return the strings and whether it broke."""
    parser = NetstringParser()
    got: list[bytes] = []
    for i in range(len(data)):
        try:
            got.extend(parser.feed(data[i : i + 1], maxLength))
        except NetstringParseError:
            return got, True
    return got, False


@pytest.mark.parametrize(
    ("data", "strings", "broken"),
    [
        (b"0:,", [b""], False),
        (b"4:1:a,,", [b"1:a,"], False),
        (b"2:aaa,", [], True),  # payload longer than announced
        (b"0:a,", [], True),
        (b":aaa,", [], True),  # no length
        (b"3aaa,", [], True),  # no colon
        (b"aaa", [], True),
        (b"01:a,", [], True),  # leading zero
        (b"+1:a,", [], True),  # sign
        (b" 1:a,", [], True),  # space
        (b"1 :a,", [], True),
        (b"1:a;", [], True),  # wrong terminator
        (b"1:a,1:b,x", [b"a", b"b"], True),
        (b"99999:", [], False),  # at the limit: waits for the payload
        (b"100000", [], True),  # over the limit before the colon arrives
        (b"9999999999999999999999", [], True),
    ],
)
def test_netstring_strictness(data: bytes, strings: list[bytes], broken: bool) -> None:
    """Malformed lengths, oversized lengths and missing commas break the parser."""
    assert netstringError(data) == (strings, broken)


def test_netstring_too_long_detected_while_digits_arrive() -> None:
    """A length over the limit is refused as soon as its digits exceed it."""
    parser = NetstringParser()
    assert parser.feed(b"5", 50) == []
    with pytest.raises(NetstringParseError):
        parser.feed(b"1", 50)


def test_netstring_broken_parser_drops_input_and_rereports() -> None:
    """Once broken, input is dropped and nextString raises again when data came."""
    parser = NetstringParser()
    with pytest.raises(NetstringParseError):
        parser.feed(b"1:ab", 10)
    assert parser.bufferedSize() == 0
    assert parser.nextString(10) is None  # nothing came after the bad comma
    parser.append(b"x" * 1000)
    assert parser.bufferedSize() == 0
    with pytest.raises(NetstringParseError):
        parser.nextString(10)


# -- linear time ---------------------------------------------------------------------


def _cost(make: Callable[[], Callable[[bytes], object]], size: int) -> float:
    best = float("inf")
    for _ in range(3):
        feed = make()
        start = time.process_time()
        chunk = b"x"
        for _ in range(size):
            feed(chunk)
        best = min(best, time.process_time() - start)
    return best


def _lineFeeder() -> Callable[[bytes], object]:
    return LineBuffer(b"\r\n").feed


def _prefixedFeeder() -> Callable[[bytes], object]:
    parser = PrefixedStringParser("!I")
    parser.feed(struct.pack("!I", 10**8), 10**9)  # then one huge string
    return lambda data: parser.feed(data, 10**9)


def _netstringFeeder() -> Callable[[bytes], object]:
    parser = NetstringParser()
    parser.feed(b"100000000:", 10**9)  # then one huge payload
    return lambda data: parser.feed(data, 10**9)


@pytest.mark.parametrize(
    "make", [_lineFeeder, _prefixedFeeder, _netstringFeeder], ids=["lines", "prefixed", "netstring"]
)
def test_byte_by_byte_feeding_is_linear(make: Callable[[], Callable[[bytes], object]]) -> None:
    """Feeding one long frame byte by byte costs time proportional to its size."""
    small = _cost(make, 20_000)
    large = _cost(make, 80_000)
    # Linear: about 4x.  Quadratic buffering would be about 16x.
    assert large < 9 * max(small, 1e-3)


def test_line_pending_loop_ends_when_the_buffer_is_taken() -> None:
    """A loop over ``pending`` stops once takeAll() took the lines it had left."""
    buf = LineBuffer(b"\n")
    buf.append(b"a\nb\nc\nd")
    assert buf.split()
    seen = []
    for line in buf.pending:
        seen.append(line)
        assert buf.bufferedSize() == len(b"a\nb\nc\nd") - 2 * len(seen)
        if line == b"b":
            assert buf.takeAll() == b"c\nd"
    assert seen == [b"a", b"b"]
    assert buf.bufferedSize() == 0
    assert not buf.split()


@pytest.mark.parametrize("fmt", ["!B", "!b", "!H", "!I", "<I", "!i"])
def test_prefixed_packed_prefixes(fmt: str) -> None:
    """The table of short prefixes is packLength for every length that fits."""
    parser = PrefixedStringParser(fmt)
    assert parser.prefixes is PrefixedStringParser(fmt).prefixes  # shared
    limit = min(parser.sendLimit, 1024)
    expected = []
    for n in range(limit):
        try:
            expected.append(parser.packLength(n))
        except struct.error:
            break
    assert parser.prefixes == expected


def test_prefixed_moves_changes_with_every_change_of_the_head() -> None:
    """``moves`` tells a caller that parses the head itself that the parser moved."""
    parser = PrefixedStringParser("!B")
    seen = [parser.moves]

    def moved() -> bool:
        seen.append(parser.moves)
        return seen[-1] != seen[-2]

    parser.append(b"\x01a\x02")
    assert moved()
    assert parser.nextString(10) == b"a"
    assert moved()
    assert parser.nextString(10) is None
    assert not moved()
    parser.append(b"")
    assert moved()
    parser.append(b"bc")
    assert moved()
    assert parser.nextString(10) == b"bc"  # joins the head and the later data
    assert moved()
    parser.replace(b"\x00")
    assert moved()
    assert parser.peek() == b"\x00" and parser.bufferedSize() == 1
    assert not moved()
