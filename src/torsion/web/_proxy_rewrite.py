"""Sans-IO proxy request and response rewriting, and the access policy.

Pure functions: where a request goes, which headers cross the proxy, the
upstream request head, and the policy checks (client allow list, Basic
proxy credentials, CONNECT ports, private destinations).  No I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from torsion.web._headers import _prefixes
from torsion.web._parser import HTTPParseError

__all__ = [
    "HOP_BY_HOP",
    "ProxyPolicy",
    "Target",
    "hopByHop",
    "parseAuthority",
    "parseTarget",
    "requestHead",
    "responseHeaders",
]

#: Always hop-by-hop (RFC 9110 §7.6.1), plus the ``Proxy-*`` family and
#: ``Keep-Alive``: never forwarded in either direction.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Request headers we always replace or drop on the way up.
_REQUEST_DROP = HOP_BY_HOP | {b"host", b"content-length", b"expect"}
_REQUEST_DROP_VIA = _REQUEST_DROP | {b"via"}  # when we add our own Via
_RESPONSE_DROP = HOP_BY_HOP | {b"content-length"}


class Target:
    """Where a request goes: ``scheme``, ``host``, ``port``, ``path`` (bytes).

    ``hostHeader`` is the ``Host`` value for it (the port only when not the
    scheme's default).
    """

    __slots__ = ("host", "hostHeader", "path", "port", "scheme")

    def __init__(
        self, scheme: bytes, host: str, port: int, path: bytes, hostHeader: bytes | None = None
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.hostHeader = hostHeader if hostHeader is not None else _hostHeader(scheme, host, port)

    def __repr__(self) -> str:
        return f"Target({self.scheme!r}, {self.host!r}, {self.port}, {self.path!r})"


def _hostHeader(scheme: bytes, host: str, port: int) -> bytes:
    host = f"[{host}]" if ":" in host else host
    default = 443 if scheme == b"https" else 80
    return hostBytes(host if port == default else f"{host}:{port}")


def hostBytes(host: str) -> bytes:
    """``host`` as it goes in a Host header: ASCII as is, IDNA for the rest.

    (The ``idna`` codec is pure Python and costs more than the rest of the
    request rewriting; nearly every name is ASCII already.)
    """
    if host.isascii():
        return host.encode("ascii")
    return host.encode("idna")


_authorityCache: dict[tuple[bytes, int | None], tuple[str, int]] = {}


def parseAuthority(authority: bytes, defaultPort: int | None) -> tuple[str, int]:
    """``host[:port]`` or ``[v6][:port]`` -> (host, port).

    Raises:
        HTTPParseError: (400) for an empty host, a bad port or stray bytes.
    """
    key = (authority, defaultPort)
    cached = _authorityCache.get(key)
    if cached is not None:
        return cached
    result = _parseAuthority(authority, defaultPort)
    if len(_authorityCache) < 1024:
        _authorityCache[key] = result
    return result


def _parseAuthority(authority: bytes, defaultPort: int | None) -> tuple[str, int]:
    try:
        text = authority.decode("ascii")
    except UnicodeDecodeError:
        raise HTTPParseError(400, "non-ASCII authority") from None
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise HTTPParseError(400, "unterminated IPv6 literal")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise HTTPParseError(400, "bad IPv6 literal") from None
        if rest and not rest.startswith(":"):
            raise HTTPParseError(400, "bad authority")
        portText = rest[1:] if rest else ""
    else:
        host, sep, portText = text.rpartition(":")
        if not sep:
            host, portText = text, ""
        if not host or any(c in host for c in "@/\\?#% \t[]"):
            raise HTTPParseError(400, "bad host")
    if portText:
        if not portText.isdigit() or len(portText) > 5 or not 0 < int(portText) < 65536:
            raise HTTPParseError(400, "bad port")
        return host.lower(), int(portText)
    if defaultPort is None:
        raise HTTPParseError(400, "port required")
    return host.lower(), defaultPort


_AUTHORITY_END = re.compile(rb"[/?#]")


def parseTarget(method: bytes, uri: bytes, ports: dict[bytes, int]) -> Target:
    """The destination of a forward-proxy request.

    ``CONNECT host:port`` (authority form) or ``http://host[:port]/path``
    (absolute form).  ``ports`` maps the accepted schemes to default ports.

    Raises:
        HTTPParseError: 400 for a malformed or origin-form target, 501 for a
            scheme not in ``ports``.
    """
    if method == b"CONNECT":
        host, port = parseAuthority(uri, None)
        return Target(b"connect", host, port, b"")
    scheme, sep, rest = uri.partition(b"://")
    if not sep:
        raise HTTPParseError(400, "not a proxy request (origin-form target)")
    scheme = scheme.lower()
    if scheme not in ports:
        raise HTTPParseError(501, f"scheme {scheme.decode('latin-1')!r} is not proxied")
    # The authority ends at the first "/", "?" or "#" (a few find() calls
    # cost less than a regular expression search).
    cut = rest.find(b"/")
    if cut < 0:
        cut = len(rest)
    authority = rest[:cut]
    if authority.find(b"?") >= 0 or authority.find(b"#") >= 0:
        end = _AUTHORITY_END.search(authority)
        assert end is not None
        cut = end.start()
        authority = authority[:cut]
    path = rest[cut:]
    # find(), not `in`: CPython 3.11's `bytes in bytes` first formats and drops a TypeError
    if authority.find(b"@") >= 0:
        raise HTTPParseError(400, "credentials in the URL")
    fragment = path.find(b"#")
    if fragment >= 0:
        path = path[:fragment]
    if not path.startswith(b"/"):
        path = b"/" + path
    key = (scheme, authority, ports[scheme])
    known = _targetCache.get(key)
    if known is None:
        host, port = parseAuthority(authority, key[2])
        known = (host, port, _hostHeader(scheme, host, port))
        if len(_targetCache) < 1024:
            _targetCache[key] = known
    return Target(scheme, known[0], known[1], path, known[2])


_targetCache: dict[tuple[bytes, bytes, int], tuple[str, int, bytes]] = {}


_hopCache: dict[tuple[bytes, ...], frozenset[bytes]] = {}


def hopByHop(connection: list[bytes] | None) -> frozenset[bytes]:
    """The header names not to forward: fixed ones plus those ``Connection`` names."""
    if not connection:
        return HOP_BY_HOP
    key = tuple(connection)
    cached = _hopCache.get(key)
    if cached is not None:
        return cached
    named = {t.strip().lower() for v in connection for t in v.split(b",")}
    named.discard(b"")
    result = HOP_BY_HOP | named
    if len(_hopCache) < 256:
        _hopCache[key] = result
    return result


def requestHead(
    method: bytes,
    path: bytes,
    hostHeader: bytes,
    raw: dict[bytes, list[bytes]],
    length: int | None,
    via: bytes | None,
    extra: Iterable[tuple[bytes, bytes]] = (),
    upgrade: bytes | None = None,
) -> bytes:
    """The HTTP/1.1 request head to send upstream.

    Hop-by-hop headers (and those named by ``Connection``), ``Host``,
    framing headers and ``Expect`` are dropped; ``Host`` comes first; the
    framing is ``Content-Length`` or ``Transfer-Encoding: chunked`` from
    ``length`` (None: chunked); ``Via`` is appended to; ``upgrade`` (the
    client's ``Upgrade`` value) is passed through with ``Connection: upgrade``.
    """
    connection = raw.get(b"connection")
    drop = _REQUEST_DROP if via is None else _REQUEST_DROP_VIA
    if connection is not None:
        drop = drop | hopByHop(connection)
    prefixes = _prefixes
    out = [method, b" ", path, b" HTTP/1.1\r\nHost: ", hostHeader, b"\r\n"]
    out.extend(
        [
            prefixes[name] + value + b"\r\n"
            for name, values in raw.items()
            if name not in drop
            for value in values
        ]
    )
    if via is not None:
        old = raw.get(b"via")
        value = b", ".join([*old, via]) if old else via
        out.append(b"Via: " + value + b"\r\n")
    for name, value in extra:
        out.append(name + b": " + value + b"\r\n")
    if length is None:
        out.append(b"Transfer-Encoding: chunked\r\n")
    elif length or method in (b"POST", b"PUT", b"PATCH"):
        out.append(b"Content-Length: %d\r\n" % length)
    if upgrade is not None:
        out.append(b"Connection: upgrade\r\nUpgrade: " + upgrade + b"\r\n")
    out.append(b"\r\n")
    return b"".join(out)


def responseHeaders(
    raw: dict[bytes, list[bytes]], via: bytes | None, keepLength: bool = True, copy: bool = True
) -> dict[bytes, list[bytes]]:
    """Response headers for the client: hop-by-hop removed, ``Via`` added.

    With ``copy`` false, ``raw`` itself is changed and returned.
    """
    out = raw.copy() if copy else raw
    for name in hopByHop(raw.get(b"connection")).intersection(raw):
        del out[name]
    if not keepLength:
        out.pop(b"content-length", None)
    if via is not None:
        old = out.get(b"via")
        out[b"via"] = [b", ".join([*old, via])] if old else [via]
    return out


def _networks(cidrs: Iterable[str]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


@dataclass
class ProxyPolicy:
    """What the proxy allows. The defaults are safe for a local proxy.

    Attributes:
        allow: client networks allowed to use the proxy (CIDR strings);
            loopback only by default.  Others get 403.
        credentials: ``{user: password}`` for ``Proxy-Authorization: Basic``;
            when set, requests without valid credentials get 407.
        realm: the realm in ``Proxy-Authenticate``.
        connectPorts: ports CONNECT may reach (403 otherwise).
        denyPrivate: refuse destinations that are (or resolve to) loopback,
            private, link-local or otherwise non-global addresses.
        upstreamTimeout: seconds to connect upstream and between upstream
            reads before giving up (504).
        via: the ``Via`` token added both ways (None: no Via).
        forwardedFor: add ``X-Forwarded-For`` and ``Forwarded`` (reverse mode).
        accessLog: called with one line per finished request, or None.
        maxIdlePerHost: idle keep-alive upstream connections kept per host.
        idleTimeout: seconds an idle upstream connection is kept.
    """

    allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    credentials: dict[str, str] | None = None
    realm: str = "torsion"
    connectPorts: frozenset[int] = frozenset({443})
    denyPrivate: bool = False
    upstreamTimeout: float = 30.0
    via: bytes | None = b"1.1 torsion"
    forwardedFor: bool = False
    accessLog: Any = None
    maxIdlePerHost: int = 256
    idleTimeout: float = 30.0
    _nets: tuple[Any, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        self._nets = _networks(self.allow)

    def clientAllowed(self, host: str) -> bool:
        """Whether a client at ``host`` may use the proxy."""
        try:
            addr = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return any(addr in net for net in self._nets)

    def authorized(self, header: bytes | None) -> bool:
        """Whether ``Proxy-Authorization`` carries valid Basic credentials."""
        creds = self.credentials
        if creds is None:
            return True
        if not header:
            return False
        scheme, _, token = header.strip().partition(b" ")
        if scheme.lower() != b"basic":
            return False
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        expected = creds.get(user)
        if expected is None:
            hmac.compare_digest(password, password)
            return False
        return hmac.compare_digest(expected.encode(), password.encode())

    def destinationAllowed(self, address: str) -> bool:
        """Whether a resolved destination address passes ``denyPrivate``."""
        if not self.denyPrivate:
            return True
        try:
            addr = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        return bool(addr.is_global) and not addr.is_multicast
