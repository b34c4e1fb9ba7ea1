"""The endpoint description grammar, as a pure function (sans-IO).

Twisted: the tokenizer and argument splitter behind
``twisted.internet.endpoints.serverFromString`` / ``clientFromString``.

Grammar, as Twisted defines it:

* ``:`` separates arguments;
* the first ``=`` of an argument splits it into a keyword name and a value
  (later ``=`` are plain characters of the value);
* ``\\`` makes the next character literal, whatever it is;
* the first argument names the endpoint type (the *prefix*).

So ``tcp:8080:interface=127.0.0.1`` is ``('tcp', ['8080'],
{'interface': '127.0.0.1'})`` and ``unix:C\\:/sock`` is ``('unix',
['C:/sock'], {})``.

torsion is stricter than Twisted where Twisted would guess or crash: a
trailing lone backslash, an empty keyword name, a keyword given twice, a
missing or keyword-shaped prefix and descriptions longer than
:data:`MAX_DESCRIPTION_LENGTH` characters are each rejected with a
``ValueError`` that names the offending part.  Parsing is one pass over the
text (linear time) and keeps nothing but the resulting strings.
"""

from __future__ import annotations

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "describe",
    "parseDescription",
    "quoteStringArgument",
]

#: Longer descriptions are rejected before parsing (a description is a
#: configuration string; this bounds the work and memory spent on one).
MAX_DESCRIPTION_LENGTH = 65536

# How much of a description an error message quotes.
_QUOTED_LIMIT = 200


def describe(description: str) -> str:
    """``description`` quoted for an error message, shortened when very long."""
    if len(description) > _QUOTED_LIMIT:
        return repr(description[:_QUOTED_LIMIT]) + f"... ({len(description)} characters)"
    return repr(description)


def _fail(description: str, problem: str) -> ValueError:
    return ValueError(f"bad endpoint description {describe(description)}: {problem}")


def parseDescription(description: str | bytes) -> tuple[str, list[str], dict[str, str]]:
    """Split an endpoint description into ``(prefix, args, kwargs)``.

    Twisted: ``twisted.internet.endpoints._parse`` (with the prefix taken
    out of the positional arguments).

    Args:
        description: e.g. ``'tcp:8080:interface=127.0.0.1'``.  Bytes are
            decoded as UTF-8.

    Returns:
        The endpoint type as written (callers compare it case-insensitively),
        the positional arguments in order, and the keyword arguments.

    Raises:
        ValueError: the description is malformed; the message quotes it and
            names the bad part.
        TypeError: ``description`` is neither ``str`` nor ``bytes``.
    """
    if isinstance(description, bytes):
        try:
            description = description.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"endpoint description {description[:_QUOTED_LIMIT]!r}: {e}") from None
    if not isinstance(description, str):
        raise TypeError(f"an endpoint description is a str, not {type(description).__name__}")
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise _fail(description, f"longer than {MAX_DESCRIPTION_LENGTH} characters")

    # (keyword or None, value, offset where the argument starts)
    parts: list[tuple[str | None, str, int]] = []
    chunk: list[str] = []
    keyword: str | None = None
    start = 0
    i = 0
    n = len(description)
    while i < n:
        c = description[i]
        if c == "\\":
            if i + 1 == n:
                raise _fail(
                    description,
                    f"it ends with a lone '\\' (at offset {i}); write '\\\\' for a backslash",
                )
            chunk.append(description[i + 1])
            i += 2
            continue
        if c == ":":
            parts.append((keyword, "".join(chunk), start))
            chunk = []
            keyword = None
            start = i + 1
        elif c == "=" and keyword is None:
            keyword = "".join(chunk)
            chunk = []
        else:
            chunk.append(c)
        i += 1
    parts.append((keyword, "".join(chunk), start))

    firstKeyword, prefix, _ = parts[0]
    if firstKeyword is not None:
        raise _fail(
            description,
            f"it must start with the endpoint type (such as 'tcp'), not the keyword "
            f"argument {firstKeyword!r}",
        )
    if not prefix:
        raise _fail(description, "the endpoint type (such as 'tcp') is missing")

    args: list[str] = []
    kwargs: dict[str, str] = {}
    for name, value, offset in parts[1:]:
        if name is None:
            args.append(value)
        elif not name:
            raise _fail(
                description, f"argument {value!r} (at offset {offset}) has an empty keyword name"
            )
        elif name in kwargs:
            raise _fail(description, f"keyword argument {name!r} is given more than once")
        else:
            kwargs[name] = value
    return prefix, args, kwargs


def quoteStringArgument(argument: str) -> str:
    """Escape ``argument`` so that it parses back as one argument.

    Twisted: ``twisted.internet.endpoints.quoteStringArgument``, which
    escapes ``\\`` and ``:``.  torsion also escapes ``=``, so that a quoted
    *positional* argument containing ``=`` is not read as a keyword; the
    result parses to the same value under Twisted's grammar too.
    """
    return argument.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")
