"""Request-smuggling shapes sent raw to the proxy: 400, close, and nothing upstream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.web.proxyenv import Env
from tests.web.test_http_parser import SMUGGLING


@pytest.fixture
def env(reactor: Any) -> Iterator[Env]:
    e = Env(reactor)
    try:
        yield e
    finally:
        e.close()


def _absolute(data: bytes, url: bytes) -> bytes:
    """Turn the request line's origin-form target into ``url``."""
    for method in (b"GET ", b"POST ", b"G\nET "):
        if data.startswith(method + b"/"):
            return method + url + data[len(method) + 1 :]
    return data


def test_corpusRejectedAndNeverForwarded(env: Env) -> None:
    """Every shape of the corpus gets 400 (or 505) and the origin sees no request."""
    url = env.url(0, "/").encode()[:-1] + b"/"
    for name, shape in sorted(SMUGGLING.items()):
        out = env.raw(_absolute(shape, url))
        assert out.startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 505 ")), (name, out[:80])
    assert env.origins[0].seen == []
    assert env.origins[0].connections == 0


def test_smuggledSecondRequestNotForwarded(env: Env) -> None:
    """A CL.TE attack carrying a hidden request forwards neither request."""
    url = env.url(0, "/x").encode()
    attack = (
        b"POST " + url + b" HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    out = env.raw(attack)
    assert out.startswith(b"HTTP/1.1 400 ")
    assert out.count(b"HTTP/1.1") == 1
    assert env.origins[0].seen == []


def test_hopByHopStrippedBothWays(env: Env) -> None:
    """Connection-named, Keep-Alive, TE, Trailer, Upgrade and Proxy-* never cross the proxy."""
    url = env.url(0, "/h").encode()
    out = env.raw(
        b"GET " + url + b" HTTP/1.1\r\nHost: a\r\nConnection: close, X-Secret\r\n"
        b"X-Secret: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: X\r\n"
        b"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\n"
        b"X-Kept: yes\r\n\r\n"
    )
    assert out.startswith(b"HTTP/1.1 200 ")
    headers = env.origins[0].seen[0][2]
    for name in (
        b"x-secret",
        b"keep-alive",
        b"te",
        b"trailer",
        b"proxy-authorization",
        b"proxy-connection",
        b"connection",
    ):
        assert not headers.hasHeader(name), name
    assert headers.getRawHeaders(b"x-kept") == [b"yes"]
    assert headers.getRawHeaders(b"host") == [url.split(b"/")[2]]
