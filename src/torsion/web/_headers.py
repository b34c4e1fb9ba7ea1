"""HTTP header storage: Twisted's ``twisted.web.http_headers.Headers``.

Names are stored lowercased; values keep their order.  Output uses the
canonical capitalisation (``Content-Type``, ``WWW-Authenticate``, ``ETag``).
Values set through the public methods have any CR or LF replaced by a space,
so an application cannot split a response by putting a line break in a
header (CVE-2019-12387, CVE-2020-7695).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, AnyStr, TypeVar, overload

__all__ = ["Headers", "canonicalName"]

_T = TypeVar("_T")

# Names whose canonical form is not the plain dash-capitalised one.
_SPECIAL = {
    b"content-md5": b"Content-MD5",
    b"dnt": b"DNT",
    b"etag": b"ETag",
    b"p3p": b"P3P",
    b"te": b"TE",
    b"www-authenticate": b"WWW-Authenticate",
    b"x-xss-protection": b"X-XSS-Protection",
    b"websocket": b"WebSocket",
    b"sec-websocket-accept": b"Sec-WebSocket-Accept",
    b"sec-websocket-key": b"Sec-WebSocket-Key",
    b"sec-websocket-version": b"Sec-WebSocket-Version",
    b"sec-websocket-protocol": b"Sec-WebSocket-Protocol",
    b"sec-websocket-extensions": b"Sec-WebSocket-Extensions",
}
_canonical: dict[bytes, bytes] = dict(_SPECIAL)
_CACHE_LIMIT = 2048
_LINEAR = (b"\r\n", b"\r", b"\n")


class _Prefixes(dict[bytes, bytes]):
    """``_prefixes[b"content-type"]`` -> ``b"Content-Type: "``, cached.

    (A subscript of a dict with ``__missing__`` costs less per field than
    ``get(name) or compute(name)``.)
    """

    def __missing__(self, name: bytes) -> bytes:
        prefix = canonicalName(name) + b": "
        if len(self) < _CACHE_LIMIT:
            self[name] = prefix
        return prefix


_prefixes = _Prefixes()


def canonicalName(name: bytes) -> bytes:
    """``b"content-type"`` -> ``b"Content-Type"`` (lowercase input expected)."""
    known = _canonical.get(name)
    if known is not None:
        return known
    result = b"-".join(part.capitalize() for part in name.split(b"-"))
    if len(_canonical) < _CACHE_LIMIT:
        _canonical[name] = result
    return result


def _sanitize(value: bytes) -> bytes:
    # find(), not `in`: CPython 3.11's `bytes in bytes` first formats and drops a TypeError
    if value.find(b"\r") >= 0 or value.find(b"\n") >= 0:
        for bad in _LINEAR:
            value = value.replace(bad, b" ")
    return value


def _encodeName(name: str | bytes) -> bytes:
    if isinstance(name, str):
        name = name.encode("iso-8859-1")
    elif not isinstance(name, bytes):
        raise TypeError(f"Header name is an instance of {type(name)!r}, not bytes or str")
    return _sanitize(name.lower())


def _encodeValue(value: str | bytes) -> bytes:
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif not isinstance(value, bytes):
        raise TypeError(f"Header value is an instance of {type(value)!r}, not bytes or str")
    return _sanitize(value)


class Headers:
    """A collection of HTTP headers, several values per name.

    Twisted: ``twisted.web.http_headers.Headers``.  Names and values may be
    ``bytes`` or ``str`` (names ISO-8859-1, values UTF-8); a lookup by a
    ``str`` name returns ``str`` values.

    Args:
        rawHeaders: an optional mapping of name to a list of values.
    """

    __slots__ = ("_rawHeaders",)

    def __init__(self, rawHeaders: Any = None) -> None:
        self._rawHeaders: dict[bytes, list[bytes]] = {}
        if rawHeaders is not None:
            for name, values in rawHeaders.items():
                self.setRawHeaders(name, values)

    def __repr__(self) -> str:
        return f"Headers({self._rawHeaders!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._rawHeaders == other._rawHeaders
        return NotImplemented

    def __hash__(self) -> int:  # mutable, like Twisted's
        raise TypeError("unhashable type: 'Headers'")

    def copy(self) -> Headers:
        """An independent copy. Twisted: ``Headers.copy``."""
        new = Headers()
        new._rawHeaders = {k: list(v) for k, v in self._rawHeaders.items()}
        return new

    def hasHeader(self, name: str | bytes) -> bool:
        """Whether ``name`` has any value. Twisted: ``Headers.hasHeader``."""
        return _encodeName(name) in self._rawHeaders

    def removeHeader(self, name: str | bytes) -> None:
        """Drop every value of ``name``. Twisted: ``Headers.removeHeader``."""
        self._rawHeaders.pop(_encodeName(name), None)

    def setRawHeaders(self, name: str | bytes, values: Iterable[str | bytes]) -> None:
        """Replace the values of ``name``. Twisted: ``Headers.setRawHeaders``.

        Raises:
            TypeError: if ``values`` is a single string or holds non-strings.
        """
        if isinstance(values, (str, bytes)):
            raise TypeError("setRawHeaders expects a sequence of values, not a string")
        self._rawHeaders[_encodeName(name)] = [_encodeValue(v) for v in values]

    def addRawHeader(self, name: str | bytes, value: str | bytes) -> None:
        """Append one value for ``name``. Twisted: ``Headers.addRawHeader``."""
        key = _encodeName(name)
        encoded = _encodeValue(value)
        values = self._rawHeaders.get(key)
        if values is None:
            self._rawHeaders[key] = [encoded]
        else:
            values.append(encoded)

    @overload
    def getRawHeaders(self, name: AnyStr) -> list[AnyStr] | None: ...

    @overload
    def getRawHeaders(self, name: AnyStr, default: _T) -> list[AnyStr] | _T: ...

    def getRawHeaders(self, name: Any, default: Any = None) -> Any:
        """Every value of ``name``, or ``default``. Twisted: ``Headers.getRawHeaders``."""
        values = self._rawHeaders.get(_encodeName(name))
        if values is None:
            return default
        if isinstance(name, str):
            return [v.decode("utf-8") for v in values]
        return list(values)

    def getAllRawHeaders(self) -> Iterator[tuple[bytes, list[bytes]]]:
        """``(canonical name, values)`` pairs. Twisted: ``Headers.getAllRawHeaders``."""
        for name, values in self._rawHeaders.items():
            yield canonicalName(name), values

    def _encode(self, out: list[bytes]) -> None:
        """Append ``Name: value`` lines to ``out``, to be joined with CRLF."""
        prefixes = _prefixes
        out.extend(
            [
                prefixes[name] + value
                for name, values in self._rawHeaders.items()
                for value in values
            ]
        )
