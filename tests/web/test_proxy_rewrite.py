"""Sans-IO proxy rewriting and policy."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torsion.web._parser import HTTPParseError
from torsion.web._proxy_rewrite import (
    ProxyPolicy,
    parseAuthority,
    parseTarget,
    requestHead,
    responseHeaders,
)

PORTS = {b"http": 80}


def test_parseTargetForms() -> None:
    """Absolute-form and authority-form targets are parsed; the host is lowercased."""
    t = parseTarget(b"GET", b"http://Example.COM:8080/a/b?c=d#frag", PORTS)
    assert (t.scheme, t.host, t.port, t.path) == (b"http", "example.com", 8080, b"/a/b?c=d")
    assert t.hostHeader == b"example.com:8080"
    t = parseTarget(b"GET", b"http://example.com", PORTS)
    assert (t.port, t.path, t.hostHeader) == (80, b"/", b"example.com")
    t = parseTarget(b"CONNECT", b"[::1]:443", PORTS)
    assert (t.host, t.port) == ("::1", 443)


@pytest.mark.parametrize(
    ("method", "uri", "status"),
    [
        (b"GET", b"/origin-form", 400),
        (b"GET", b"ftp://host/x", 501),
        (b"GET", b"http://user:pw@host/x", 400),
        (b"GET", b"http://host:99999/", 400),
        (b"GET", b"http://:80/", 400),
        (b"CONNECT", b"host", 400),
        (b"CONNECT", b"host:0", 400),
        (b"CONNECT", b"[zz]:443", 400),
    ],
)
def test_badTargets(method: bytes, uri: bytes, status: int) -> None:
    """Malformed or unsupported targets raise HTTPParseError with the right status."""
    with pytest.raises(HTTPParseError) as info:
        parseTarget(method, uri, PORTS)
    assert info.value.status == status


def test_parseAuthorityCached() -> None:
    """Repeated authorities give equal results."""
    assert parseAuthority(b"a.b:81", 80) == parseAuthority(b"a.b:81", 80) == ("a.b", 81)


@pytest.mark.parametrize(
    ("uri", "ports", "host", "port", "hostHeader"),
    [
        (b"http://A.b/x", {b"http": 80}, "a.b", 80, b"a.b"),
        (b"http://a.b:8080/x", {b"http": 80}, "a.b", 8080, b"a.b:8080"),
        (b"http://a.b/x", {b"http": 8080}, "a.b", 8080, b"a.b:8080"),
        (b"https://a.b/x", {b"https": 443}, "a.b", 443, b"a.b"),
        (b"http://[::1]:81/", {b"http": 80}, "::1", 81, b"[::1]:81"),
    ],
)
def test_targetHostHeader(
    uri: bytes, ports: dict[bytes, int], host: str, port: int, hostHeader: bytes
) -> None:
    """Host, port and Host value, the same the first and the second time (cached)."""
    for _ in range(2):
        t = parseTarget(b"GET", uri, ports)
        assert (t.host, t.port, t.hostHeader) == (host, port, hostHeader)


def test_requestHead() -> None:
    """The upstream head: HTTP/1.1, Host first, hop-by-hop dropped, Via appended, framing set."""
    raw = {
        b"host": [b"ignored"],
        b"connection": [b"keep-alive, x-drop"],
        b"x-drop": [b"1"],
        b"via": [b"1.0 other"],
        b"content-length": [b"5"],
        b"expect": [b"100-continue"],
        b"accept": [b"*/*"],
    }
    head = requestHead(b"POST", b"/p", b"h:81", raw, None, b"1.1 torsion")
    assert head == (
        b"POST /p HTTP/1.1\r\nHost: h:81\r\nAccept: */*\r\nVia: 1.0 other, 1.1 torsion\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    head = requestHead(b"GET", b"/", b"h", {}, 0, None, upgrade=b"websocket")
    assert head.endswith(b"Connection: upgrade\r\nUpgrade: websocket\r\n\r\n")


def test_responseHeaders() -> None:
    """Response hop-by-hop headers (and those Connection names) are dropped; Via is added."""
    raw = {
        b"connection": [b"keep-alive, x-internal"],
        b"keep-alive": [b"timeout=5"],
        b"x-internal": [b"1"],
        b"transfer-encoding": [b"chunked"],
        b"proxy-authenticate": [b"Basic"],
        b"content-type": [b"text/plain"],
        b"content-length": [b"3"],
    }
    expected = {
        b"content-type": [b"text/plain"],
        b"content-length": [b"3"],
        b"via": [b"1.1 torsion"],
    }
    original = dict(raw)
    out = responseHeaders(raw, b"1.1 torsion")
    assert out == expected
    assert raw == original  # a copy by default
    inPlace = responseHeaders(raw, b"1.1 torsion", copy=False)
    assert inPlace is raw
    assert raw == expected


def test_policyClientsAndCredentials() -> None:
    """The allow list is CIDR based; Basic credentials are checked exactly."""
    policy = ProxyPolicy(allow=("10.0.0.0/8",), credentials={"u": "p:w"})
    assert policy.clientAllowed("10.1.2.3")
    assert policy.clientAllowed("::ffff:10.1.2.3")
    assert not policy.clientAllowed("127.0.0.1")
    assert not policy.clientAllowed("not an ip")
    good = b"Basic " + base64.b64encode(b"u:p:w")
    assert policy.authorized(good)
    assert not policy.authorized(b"Basic " + base64.b64encode(b"u:p"))
    assert not policy.authorized(b"Basic !!!")
    assert not policy.authorized(None)
    assert not policy.authorized(b"Bearer x")
    assert ProxyPolicy().clientAllowed("127.0.0.1")
    assert ProxyPolicy().clientAllowed("::1")


def test_denyPrivate() -> None:
    """With denyPrivate, loopback, private and link-local destinations are refused."""
    policy = ProxyPolicy(denyPrivate=True)
    for addr in ("127.0.0.1", "10.0.0.1", "192.168.1.1", "169.254.169.254", "::1", "fe80::1"):
        assert not policy.destinationAllowed(addr), addr
    assert policy.destinationAllowed("93.184.216.34")
    assert ProxyPolicy().destinationAllowed("127.0.0.1")


def _referenceSplit(rest: bytes) -> tuple[bytes, bytes]:
    """The authority ends at the first of "/", "?", "#"; the fragment is dropped."""
    cut = min(
        [i for i in (rest.find(b"/"), rest.find(b"?"), rest.find(b"#")) if i >= 0] or [len(rest)]
    )
    path = rest[cut:].split(b"#", 1)[0]
    return rest[:cut], path if path.startswith(b"/") else b"/" + path


@given(
    authority=st.sampled_from([b"h", b"h:81", b"[::1]:8080", b"Example.COM"]),
    tail=st.lists(st.sampled_from([b"/", b"?", b"#", b"a", b"=", b"%2F", b":", b"@"]), max_size=8),
)
def test_parseTargetSplitsLikeTheReference(authority: bytes, tail: list[bytes]) -> None:
    """Host, port and path match a plain split at the first "/", "?" or "#"."""
    rest = authority + b"".join(tail)
    expectedAuthority, expectedPath = _referenceSplit(rest)
    try:
        target = parseTarget(b"GET", b"http://" + rest, PORTS)
    except HTTPParseError as e:
        assert e.status == 400
        assert b"@" in expectedAuthority or expectedAuthority != authority
        return
    assert (target.host, target.port) == parseAuthority(expectedAuthority, 80)
    assert target.path == expectedPath
