"""``serverFromString`` / ``clientFromString`` and the table of endpoint types.

Twisted: ``twisted.internet.endpoints.serverFromString`` and
``clientFromString``, whose endpoint types come from a fixed table plus
``twisted.plugins`` plugins.  torsion has no plugin discovery; instead each
prefix maps to a *builder*, and other modules add prefixes with
:func:`registerServerParser` / :func:`registerClientParser`.

A builder is called as ``builder(reactor, *args, **kwargs)`` with the
description's positional and keyword arguments as strings (exactly what
Twisted passes to ``parseStreamServer``/``parseStreamClient``), and returns
an endpoint.  It reports a bad argument by raising ``ValueError`` with a
message naming it; :func:`bindArguments` and the converters below help
builders do that uniformly.  A builder may be registered as a
``"package.module:function"`` string, imported on first use, so that
registering costs no import.

Built-in prefixes (case-insensitive):

* ``tcp``: server ``tcp:PORT[:interface=IP][:backlog=N]``; client
  ``tcp:HOST:PORT[:timeout=S][:bindAddress=IP]`` (or ``host=``/``port=``).
* ``tcp6``: server ``tcp6:PORT[:backlog=N][:interface=IPv6]``; client as
  ``tcp`` but over IPv6 (a torsion addition).
* ``unix``: server ``unix:PATH[:mode=666][:backlog=N][:lockfile=1]``;
  client ``unix:PATH[:timeout=S][:lockfile=0]`` (or ``path=``).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from torsion.internet._endpointparser import describe, parseDescription
from torsion.internet._streamendpoints import (
    TCP4ClientEndpoint,
    TCP4ServerEndpoint,
    TCP6ClientEndpoint,
    TCP6ServerEndpoint,
    UNIXClientEndpoint,
    UNIXServerEndpoint,
)

__all__ = [
    "bindArguments",
    "clientFromString",
    "flag",
    "nonNegativeInt",
    "octalMode",
    "portNumber",
    "registerClientParser",
    "registerServerParser",
    "seconds",
    "serverFromString",
    "text",
]

Builder = Callable[..., Any]
_Entry = Builder | str


# -- helpers for builders ------------------------------------------------------


def bindArguments(
    prefix: str,
    args: Sequence[str],
    kwargs: Mapping[str, str],
    positional: Sequence[str],
    keywords: Sequence[str] = (),
    required: Sequence[str] = (),
) -> dict[str, str]:
    """Match a description's arguments to parameter names, strictly.

    Args:
        prefix: the endpoint type, for error messages.
        args: the positional arguments, bound to ``positional`` in order.
        kwargs: the keyword arguments; each must be in ``positional`` or
            ``keywords`` and not also given by position.
        positional: names that may be given by position (in order) or keyword.
        keywords: names that may only be given as keywords.
        required: names that must be given.

    Returns:
        ``{name: value}`` for the arguments given.

    Raises:
        ValueError: too many positional arguments, an unknown keyword, an
            argument given twice, or a required one missing.
    """
    allowed = list(positional) + [k for k in keywords if k not in positional]
    if len(args) > len(positional):
        raise ValueError(
            f"{prefix!r} takes at most {len(positional)} positional argument(s) "
            f"({', '.join(positional) or 'none'}); {args[len(positional)]!r} is one too many"
        )
    bound = dict(zip(positional, args, strict=False))
    for name, value in kwargs.items():
        if name not in allowed:
            raise ValueError(
                f"unknown argument {name!r} for {prefix!r} (expected: {', '.join(allowed)})"
            )
        if name in bound:
            raise ValueError(
                f"argument {name!r} for {prefix!r} is given both by position and as {name}="
            )
        bound[name] = value
    for name in required:
        if name not in bound:
            raise ValueError(f"{prefix!r} needs the argument {name!r}")
    return bound


_DIGITS = re.compile(r"[0-9]{1,10}\Z")
_DECIMAL = re.compile(r"(?:[0-9]{1,10}(?:\.[0-9]{0,10})?|\.[0-9]{1,10})\Z")
_OCTAL = re.compile(r"(?:0o)?[0-7]{1,6}\Z")


def portNumber(value: str, name: str = "port") -> int:
    """A port number, 0 to 65535, in ASCII digits."""
    if not _DIGITS.match(value) or int(value) > 65535:
        raise ValueError(f"{name} must be a number from 0 to 65535, not {value!r}")
    return int(value)


def nonNegativeInt(value: str, name: str) -> int:
    """A whole number >= 0, in ASCII digits (e.g. a backlog)."""
    if not _DIGITS.match(value):
        raise ValueError(f"{name} must be a whole number, not {value!r}")
    return int(value)


def octalMode(value: str, name: str = "mode") -> int:
    """File permissions in octal, e.g. ``'660'``."""
    if not _OCTAL.match(value) or int(value, 8) > 0o7777:
        raise ValueError(f"{name} must be octal permissions such as 660, not {value!r}")
    return int(value, 8)


def flag(value: str, name: str) -> bool:
    """A ``0``/``1`` switch (any number, as Twisted's ``bool(int(value))``)."""
    return bool(nonNegativeInt(value, name))


def seconds(value: str, name: str = "timeout") -> int | float:
    """A duration in seconds, such as ``'30'`` or ``'2.5'``."""
    if not _DECIMAL.match(value):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    return float(value) if "." in value else int(value)


def text(value: str, name: str, allowEmpty: bool = False) -> str:
    """A free-form string argument (a host, a path): no NUL, maybe not empty."""
    if not value and not allowEmpty:
        raise ValueError(f"{name} must not be empty")
    if "\x00" in value:
        raise ValueError(f"{name} must not contain a NUL character: {value!r}")
    return value


# -- the built-in endpoint types ----------------------------------------------


def _tcpServer(reactor: Any, *args: str, **kwargs: str) -> TCP4ServerEndpoint:
    a = bindArguments("tcp", args, kwargs, ("port", "interface", "backlog"), required=("port",))
    return TCP4ServerEndpoint(
        reactor,
        portNumber(a["port"]),
        backlog=nonNegativeInt(a.get("backlog", "50"), "backlog"),
        interface=text(a.get("interface", ""), "interface", allowEmpty=True),
    )


def _tcp6Server(reactor: Any, *args: str, **kwargs: str) -> TCP6ServerEndpoint:
    # Twisted's tcp6 parser takes (port, backlog, interface) in that order.
    a = bindArguments("tcp6", args, kwargs, ("port", "backlog", "interface"), required=("port",))
    return TCP6ServerEndpoint(
        reactor,
        portNumber(a["port"]),
        backlog=nonNegativeInt(a.get("backlog", "50"), "backlog"),
        interface=text(a.get("interface", "::"), "interface", allowEmpty=True),
    )


def _unixServer(reactor: Any, *args: str, **kwargs: str) -> UNIXServerEndpoint:
    a = bindArguments(
        "unix", args, kwargs, ("address", "mode", "backlog", "lockfile"), required=("address",)
    )
    return UNIXServerEndpoint(
        reactor,
        text(a["address"], "address"),
        backlog=nonNegativeInt(a.get("backlog", "50"), "backlog"),
        mode=octalMode(a.get("mode", "666")),
        wantPID=flag(a.get("lockfile", "1"), "lockfile"),
    )


def tcpClientArguments(
    prefix: str, args: Sequence[str], kwargs: Mapping[str, str], extraKeywords: Sequence[str] = ()
) -> tuple[str, int, int | float, tuple[str, int] | None]:
    """Host, port, timeout and bind address of a ``tcp:``-like client string.

    As Twisted: ``HOST:PORT``, ``host=H:PORT`` or ``HOST:port=P``, plus
    ``timeout`` and ``bindAddress`` keywords and the ``extraKeywords`` of
    the endpoint type (``ssl:``), which are checked here but not returned.
    """
    positional = ("port",) if len(args) == 1 and "host" in kwargs else ("host", "port")
    a = bindArguments(
        prefix,
        args,
        kwargs,
        positional,
        keywords=("host", "port", "timeout", "bindAddress", *extraKeywords),
        required=("host", "port"),
    )
    return clientAddress(a)


def clientAddress(a: Mapping[str, str]) -> tuple[str, int, int | float, tuple[str, int] | None]:
    """Host, port, timeout (default 30 s) and bind address of bound client arguments."""
    bindAddress = a.get("bindAddress")
    return (
        text(a["host"], "host"),
        portNumber(a["port"]),
        seconds(a.get("timeout", "30")),
        None if bindAddress is None else (text(bindAddress, "bindAddress"), 0),
    )


def _tcpClient(reactor: Any, *args: str, **kwargs: str) -> TCP4ClientEndpoint:
    host, port, timeout, bindAddress = tcpClientArguments("tcp", args, kwargs)
    return TCP4ClientEndpoint(reactor, host, port, timeout=timeout, bindAddress=bindAddress)


def _tcp6Client(reactor: Any, *args: str, **kwargs: str) -> TCP6ClientEndpoint:
    host, port, timeout, bindAddress = tcpClientArguments("tcp6", args, kwargs)
    return TCP6ClientEndpoint(reactor, host, port, timeout=timeout, bindAddress=bindAddress)


def _unixClient(reactor: Any, *args: str, **kwargs: str) -> UNIXClientEndpoint:
    a = bindArguments(
        "unix", args, kwargs, ("path",), keywords=("timeout", "lockfile"), required=("path",)
    )
    lockfile = a.get("lockfile")
    return UNIXClientEndpoint(
        reactor,
        text(a["path"], "path"),
        timeout=seconds(a.get("timeout", "30")),
        checkPID=0 if lockfile is None else flag(lockfile, "lockfile"),
    )


# -- the tables ---------------------------------------------------------------

_serverBuilders: dict[str, _Entry] = {
    "tcp": _tcpServer,
    "tcp6": _tcp6Server,
    "unix": _unixServer,
    "ssl": "torsion.internet._tlsendpoints:parseServerSSL",
}

_clientBuilders: dict[str, _Entry] = {
    "tcp": _tcpClient,
    "tcp6": _tcp6Client,
    "unix": _unixClient,
    "ssl": "torsion.internet._tlsendpoints:parseClientSSL",
    "tls": "torsion.internet._tlsendpoints:parseClientTLS",
}


def _register(table: dict[str, _Entry], prefix: str, builder: _Entry, replace: bool) -> None:
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Za-z0-9_.+-]+", prefix):
        raise ValueError(f"an endpoint prefix is letters, digits or _.+- only, not {prefix!r}")
    key = prefix.lower()
    if key in table and not replace:
        raise ValueError(f"endpoint prefix {prefix!r} is already registered")
    if isinstance(builder, str) and ":" not in builder:
        raise ValueError(f"a lazy builder is 'package.module:function', not {builder!r}")
    table[key] = builder


def registerServerParser(prefix: str, builder: Builder | str, *, replace: bool = False) -> None:
    """Make ``serverFromString`` understand ``prefix:...`` descriptions.

    torsion only (Twisted uses ``IStreamServerEndpointStringParser`` plugins;
    a Twisted plugin object can be registered as its ``parseStreamServer``).

    Args:
        prefix: the endpoint type, matched case-insensitively.
        builder: ``builder(reactor, *args, **kwargs) -> endpoint`` that
            raises ``ValueError`` for bad arguments, or a
            ``"package.module:function"`` string naming it (imported on first
            use).
        replace: allow replacing an existing prefix.

    Raises:
        ValueError: the prefix is malformed or already registered.
    """
    _register(_serverBuilders, prefix, builder, replace)


def registerClientParser(prefix: str, builder: Builder | str, *, replace: bool = False) -> None:
    """Make ``clientFromString`` understand ``prefix:...`` descriptions.

    torsion only; the counterpart of :func:`registerServerParser` (a Twisted
    plugin's ``parseStreamClient`` fits).
    """
    _register(_clientBuilders, prefix, builder, replace)


def _builderFor(table: dict[str, _Entry], prefix: str, description: str) -> Builder:
    entry = table.get(prefix.lower())
    if entry is None:
        known = ", ".join(sorted(table))
        raise ValueError(
            f"bad endpoint description {describe(description)}: unknown endpoint type "
            f"{prefix!r} (known: {known})"
        )
    if isinstance(entry, str):
        moduleName, _, attribute = entry.partition(":")
        loaded: Any = importlib.import_module(moduleName)
        for part in attribute.split("."):
            loaded = getattr(loaded, part)
        table[prefix.lower()] = loaded
        entry = loaded
    return entry


def _build(table: dict[str, _Entry], reactor: Any, description: str | bytes) -> Any:
    prefix, args, kwargs = parseDescription(description)
    if isinstance(description, bytes):
        description = description.decode("utf-8")
    builder = _builderFor(table, prefix, description)
    try:
        inspect.signature(builder).bind(reactor, *args, **kwargs)
    except TypeError as e:
        raise ValueError(f"bad endpoint description {describe(description)}: {e}") from None
    try:
        return builder(reactor, *args, **kwargs)
    except ValueError as e:
        raise ValueError(f"bad endpoint description {describe(description)}: {e}") from e


def serverFromString(reactor: Any, description: str | bytes) -> Any:
    """Build a server endpoint from a description such as ``'tcp:8080'``.

    Twisted: ``twisted.internet.endpoints.serverFromString``.

    Args:
        reactor: given to the endpoint.
        description: ``prefix:arguments``; see the module docstring for the
            built-in prefixes and :mod:`torsion.internet._endpointparser` for
            the grammar (``:`` separates, ``=`` names, ``\\`` escapes).

    Returns:
        An ``IStreamServerEndpoint``.

    Raises:
        ValueError: the description is malformed, names an unknown endpoint
            type, or has a missing, unknown or invalid argument; the message
            names the bad part.
    """
    return _build(_serverBuilders, reactor, description)


def clientFromString(reactor: Any, description: str | bytes) -> Any:
    """Build a client endpoint from a description such as ``'tcp:example.com:80'``.

    Twisted: ``twisted.internet.endpoints.clientFromString``.

    Raises:
        ValueError: as :func:`serverFromString`.
    """
    return _build(_clientBuilders, reactor, description)
