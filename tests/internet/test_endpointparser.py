"""The endpoint description grammar (sans-IO): examples, errors, fuzzing, Twisted parity."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.endpoints import _parse as twistedParse
from twisted.internet.endpoints import quoteStringArgument as twistedQuote

from torsion.internet._endpointparser import (
    MAX_DESCRIPTION_LENGTH,
    parseDescription,
    quoteStringArgument,
)

# Text built mostly from the grammar's special characters, so that random
# examples exercise escapes, keywords and separators rather than plain words.
grammarText = st.text(alphabet=st.sampled_from("ab1:=\\ é\x00"), max_size=30)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("tcp:8080:interface=127.0.0.1", ("tcp", ["8080"], {"interface": "127.0.0.1"})),
        (
            "tcp:host=h:port=p:timeout=5",
            ("tcp", [], {"host": "h", "port": "p", "timeout": "5"}),
        ),
        ("tcp6:8080", ("tcp6", ["8080"], {})),
        ("unix:/var/run/sock:mode=660", ("unix", ["/var/run/sock"], {"mode": "660"})),
        ("unix:C\\:/sock", ("unix", ["C:/sock"], {})),
        ("ssl:443:privateKey=C\\:/key.pem", ("ssl", ["443"], {"privateKey": "C:/key.pem"})),
        ("tcp:host=example.com:80", ("tcp", ["80"], {"host": "example.com"})),
        ("x:a=b=c", ("x", [], {"a": "b=c"})),
        ("x:a\\=b", ("x", ["a=b"], {})),
        ("x:\\\\", ("x", ["\\"], {})),
        ("x:\\q", ("x", ["q"], {})),
        ("x", ("x", [], {})),
        ("x:", ("x", [""], {})),
        ("x::", ("x", ["", ""], {})),
        ("x:k=", ("x", [], {"k": ""})),
        ("TCP:80", ("TCP", ["80"], {})),
        (b"unix:/tmp/s", ("unix", ["/tmp/s"], {})),
    ],
)
def test_examples(
    description: str | bytes, expected: tuple[str, list[str], dict[str, str]]
) -> None:
    """Descriptions split into (prefix, args, kwargs) as Twisted's grammar says."""
    assert parseDescription(description) == expected


@pytest.mark.parametrize(
    ("description", "fragment"),
    [
        ("tcp:80\\", "ends with a lone '\\' (at offset 6)"),
        ("", "endpoint type (such as 'tcp') is missing"),
        (":80", "endpoint type (such as 'tcp') is missing"),
        ("port=80:tcp", "not the keyword argument 'port'"),
        ("tcp:80:=x", "argument 'x' (at offset 7) has an empty keyword name"),
        ("tcp:80:backlog=1:backlog=2", "keyword argument 'backlog' is given more than once"),
    ],
)
def test_errors_name_the_bad_part(description: str, fragment: str) -> None:
    """Malformed descriptions raise ValueError quoting the description and the bad part."""
    with pytest.raises(ValueError) as info:
        parseDescription(description)
    message = str(info.value)
    assert message.startswith(f"bad endpoint description {description!r}: ")
    assert fragment in message


def test_too_long() -> None:
    """A description over the length limit is rejected and quoted only in part."""
    description = "tcp:" + "1" * MAX_DESCRIPTION_LENGTH
    with pytest.raises(ValueError, match="longer than 65536 characters") as info:
        parseDescription(description)
    assert len(str(info.value)) < 400


def test_bad_utf8_bytes() -> None:
    """Bytes that are not UTF-8 give a ValueError."""
    with pytest.raises(ValueError, match="utf-8"):
        parseDescription(b"unix:/tmp/\xff")


def test_not_a_string() -> None:
    """A description that is not str or bytes is a TypeError (a programming error)."""
    with pytest.raises(TypeError, match="not int"):
        parseDescription(80)  # type: ignore[arg-type]


def test_quote_string_argument() -> None:
    """quoteStringArgument escapes backslash, colon and equals."""
    assert quoteStringArgument("C:\\a=b") == "C\\:\\\\a\\=b"


@settings(max_examples=300)
@given(grammarText)
def test_any_string_parses_or_raises_value_error(description: str) -> None:
    """Any text gives a (prefix, args, kwargs) triple or a ValueError, nothing else."""
    try:
        prefix, args, kwargs = parseDescription(description)
    except ValueError as e:
        assert str(e).startswith("bad endpoint description ")
        return
    assert prefix and isinstance(args, list) and isinstance(kwargs, dict)


@settings(max_examples=300)
@given(grammarText)
def test_same_result_as_twisted_when_accepted(description: str) -> None:
    """Whatever torsion accepts, Twisted's parser splits the same way."""
    try:
        prefix, args, kwargs = parseDescription(description)
    except ValueError:
        return
    if not all(name.isascii() for name in kwargs):
        # Twisted crashes on non-ASCII keyword names; torsion's builders
        # reject them as unknown arguments with a ValueError instead.
        with pytest.raises(UnicodeEncodeError):
            twistedParse(description)
        return
    assert twistedParse(description) == ([prefix, *args], kwargs)


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_quoted_argument_round_trips(value: str) -> None:
    """A quoted value parses back unchanged, as positional and as keyword argument."""
    quoted = quoteStringArgument(value)
    assert parseDescription("x:" + quoted) == ("x", [value], {})
    assert parseDescription("x:k=" + quoted) == ("x", [], {"k": value})
    # Twisted reads torsion's quoting the same way.
    assert twistedParse("x:k=" + quoted) == (["x"], {"k": value})


@settings(max_examples=100)
@given(st.text(alphabet=st.characters(blacklist_characters="="), max_size=40))
def test_quoting_matches_twisted_without_equals(value: str) -> None:
    """Without '=', torsion's quoting is byte-for-byte Twisted's."""
    assert quoteStringArgument(value) == twistedQuote(value)
