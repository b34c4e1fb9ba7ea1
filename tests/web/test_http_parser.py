"""Sans-IO tests of the strict HTTP/1.1 request and response parsers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._parser import HTTPParseError, RequestParser, ResponseParser


class Sink:
    """Records parser events as tuples."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def headReceived(self, method, uri, version, headers, length, keepAlive, upgrade) -> None:
        self.events.append(
            ("head", method, uri, version, sorted(headers._rawHeaders.items()), length, upgrade)
        )

    def statusReceived(self, version, code, reason, headers, length) -> None:
        self.events.append(("status", version, code, reason, length))

    def bodyReceived(self, data: bytes) -> None:
        if self.events and self.events[-1][0] == "body":
            self.events[-1] = ("body", self.events[-1][1] + data)
        else:
            self.events.append(("body", data))

    def messageComplete(self) -> None:
        self.events.append(("done",))

    def upgradeReceived(self, rest: bytes) -> None:
        self.events.append(("upgrade", rest))


def parseAll(data: bytes, splits: list[int] | None = None, **kw: Any) -> list[Any]:
    sink = Sink()
    parser = RequestParser(sink, **kw)
    if splits is None:
        parser.feed(data)
    else:
        last = 0
        for cut in [*sorted(splits), len(data)]:
            if cut > last:
                parser.feed(data[last:cut])
                last = cut
    return sink.events


VALID = (
    b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
    b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
    b"GET http://example.com:81/d HTTP/1.0\r\n\r\n"
)


def test_pipelinedRequestsWhole() -> None:
    """Four pipelined requests (CL body, chunked body with a trailer) parse in order."""
    events = parseAll(VALID)
    heads = [e for e in events if e[0] == "head"]
    assert [h[2] for h in heads] == [b"/a?x=1", b"/b", b"/c", b"http://example.com:81/d"]
    assert [h[5] for h in heads] == [0, 5, None, 0]
    assert ("body", b"hello") in events
    assert ("body", b"abcde") in events
    assert events.count(("done",)) == 4
    assert heads[3][3] == b"HTTP/1.0"


def test_byteByByte() -> None:
    """Feeding one byte at a time gives the same events as feeding everything at once."""
    assert parseAll(VALID, list(range(len(VALID)))) == parseAll(VALID)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(VALID)), max_size=20))
def test_randomSplits(splits: list[int]) -> None:
    """Any split of the input gives the same events."""
    assert parseAll(VALID, splits) == parseAll(VALID)


def test_trailersDoNotReachHeaders() -> None:
    """Trailer fields are dropped, never merged into the request headers."""
    head = next(e for e in parseAll(VALID) if e[0] == "head" and e[2] == b"/c")
    assert b"x-trailer" not in dict(head[4])


SMUGGLING = {
    "cl-and-te": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 3\r\n\r\n0\r\n\r\n",
    "duplicate-cl-equal": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Content-Length: 3\r\n\r\nabc",
    "duplicate-cl-unequal": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
    b"Content-Length: 0\r\n\r\nabc",
    "cl-list": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc",
    "signed-cl": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc",
    "te-gzip-chunked": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",  # noqa: E501
    "te-chunked-comma": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",  # noqa: E501
    "te-twice": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-identity": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
    "te-http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-vertical-tab": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n",  # noqa: E501
    "obs-fold": b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    "obs-fold-te": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
    "bare-lf": b"GET / HTTP/1.1\nHost: a\n\n",
    "bare-cr-in-value": b"GET / HTTP/1.1\r\nHost: a\rTransfer-Encoding: chunked\r\n\r\n",
    "cr-only-delimiter": b"GET / HTTP/1.1\r\nX-Abc: \rxTransfer-Encoding: chunked\r\n\r\n",
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "space-before-colon-te": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
    "chunk-size-0x": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",  # noqa: E501
    "chunk-size-negative": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",  # noqa: E501
    "chunk-size-overflow": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"FFFFFFFFFFFFFFFFFFFFF\r\n",
    "chunk-ext-lf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n",  # noqa: E501
    "chunk-missing-crlf": b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX0\r\n\r\n",  # noqa: E501
    "crlf-in-uri": b"GET /a\r\nX: y HTTP/1.1\r\nHost: a\r\n\r\n",
    "cr-in-uri": b"GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n",
    "lf-in-method": b"G\nET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n",
    "empty-header-name": b"GET / HTTP/1.1\r\n: a\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "http09": b"GET /\r\n\r\n",
    "bad-version": b"GET / HTTP/1.x\r\nHost: a\r\n\r\n",
}


@pytest.mark.parametrize("name", sorted(SMUGGLING))
def test_smugglingShapesRejected(name: str) -> None:
    """Each request-smuggling shape raises HTTPParseError(400), whole or byte by byte."""
    data = SMUGGLING[name]
    for splits in (None, list(range(len(data)))):
        with pytest.raises(HTTPParseError) as info:
            parseAll(data, splits)
        assert info.value.status == 400, info.value


def test_http2RequestLine() -> None:
    """An HTTP/2.0 request line is answered 505 (or 400 from llhttp)."""
    with pytest.raises(HTTPParseError) as info:
        parseAll(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n")
    assert info.value.status in (400, 505)


def test_headerSectionTooLarge() -> None:
    """A request head above 16 KiB gives 431, complete or still arriving."""
    big = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * 17000 + b"\r\n\r\n"
    with pytest.raises(HTTPParseError) as info:
        parseAll(big)
    assert info.value.status == 431
    sink = Sink()
    parser = RequestParser(sink)
    with pytest.raises(HTTPParseError) as info:
        for i in range(0, len(big) - 10, 1000):
            parser.feed(big[i : i + 1000])
    assert info.value.status == 431


def test_tooManyHeaders() -> None:
    """More header fields than the limit gives 431."""
    data = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20)) + b"\r\n"
    with pytest.raises(HTTPParseError) as info:
        parseAll(data, maxHeaders=10)
    assert info.value.status == 431
    assert parseAll(data, maxHeaders=30)[-1] == ("done",)


@pytest.mark.parametrize("limit", [19, 20])
def test_headerCountBoundary(limit: int) -> None:
    """The count includes repeated names: 20 fields pass a limit of 20, not 19."""
    data = b"GET / HTTP/1.1\r\n" + b"X-Same: v\r\n" * 20 + b"\r\n"
    if limit == 20:
        assert parseAll(data, maxHeaders=limit)[-1] == ("done",)
        return
    with pytest.raises(HTTPParseError) as info:
        parseAll(data, maxHeaders=limit)
    assert info.value.status == 431


def test_tooManyTrailerFields() -> None:
    """The trailer section has the same field limit (431), checked at its end."""
    head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
    trailers = b"".join(b"T-%d: v\r\n" % i for i in range(12)) + b"\r\n"
    with pytest.raises(HTTPParseError) as info:
        parseAll(head + trailers, maxHeaders=10)
    assert info.value.status == 431
    assert parseAll(head + trailers, maxHeaders=12)[-1] == ("done",)


def test_bodyTooLarge() -> None:
    """A body over maxBodySize gives 413, by Content-Length or by chunked size."""
    with pytest.raises(HTTPParseError) as info:
        parseAll(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", maxBodySize=10)
    assert info.value.status == 413
    chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
    with pytest.raises(HTTPParseError) as info:
        parseAll(chunked * 1 + b"8\r\n12345678\r\n0\r\n\r\n", maxBodySize=10)
    assert info.value.status == 413


def test_upgradeAndConnect() -> None:
    """CONNECT and Upgrade requests end parsing; the rest is handed over raw."""
    events = parseAll(b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n\x16\x03TLS")
    assert events[0][6] is True
    assert events[-1] == ("upgrade", b"\x16\x03TLS")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzzAnyBytes(data: bytes) -> None:
    """Arbitrary bytes give events or HTTPParseError, never another exception."""
    try:
        parseAll(data)
    except HTTPParseError as e:
        assert e.status in (400, 413, 431, 505)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"GET ",
                b"POST ",
                b"/x",
                b" HTTP/1.1",
                b"\r\n",
                b"Host: a",
                b"Content-Length: 3",
                b"Transfer-Encoding: chunked",
                b"abc",
                b"0\r\n",
                b"3\r\n",
                b":",
                b" ",
                b"\n",
                b"\r",
            ]
        ),
        max_size=30,
    )
)
def test_fuzzHttpLikeTokens(parts: list[bytes]) -> None:
    """HTTP-shaped token soup never raises anything but HTTPParseError."""
    data = b"".join(parts)
    try:
        whole = parseAll(data)
    except HTTPParseError:
        return
    assert parseAll(data, list(range(len(data)))) == whole


class TestResponseParser:
    def feed(self, data: bytes, head: bool = False, eof: bool = False) -> list[Any]:
        sink = Sink()
        parser = ResponseParser(sink)
        if head:
            parser.expectNoBody()
        parser.feed(data)
        if eof:
            parser.feedEOF()
        return sink.events

    def test_contentLength(self) -> None:
        """A Content-Length response gives status, body, done."""
        events = self.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi")
        assert events == [("status", b"HTTP/1.1", 200, b"OK", 2), ("body", b"hi"), ("done",)]

    def test_headResponseEndsAtHeaders(self) -> None:
        """A response to HEAD ends after its headers despite Content-Length."""
        events = self.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", head=True)
        assert events == [("status", b"HTTP/1.1", 200, b"OK", 0), ("done",)]

    def test_closeDelimited(self) -> None:
        """A body without framing ends at EOF."""
        events = self.feed(b"HTTP/1.1 200 OK\r\n\r\nabc", eof=True)
        assert events == [("status", b"HTTP/1.1", 200, b"OK", -1), ("body", b"abc"), ("done",)]

    def test_interimThenFinal(self) -> None:
        """A 100 Continue is reported before the final response."""
        events = self.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        assert [e[2] for e in events if e[0] == "status"] == [100, 204]

    def test_smugglingResponse(self) -> None:
        """An upstream response with CL and TE is refused with 502."""
        with pytest.raises(HTTPParseError) as info:
            self.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert info.value.status == 502


def test_eachMessageStartsWithFreshState() -> None:
    """Headers, reason and framing of one message never leak into the next.

    (The parsers reset themselves when a message completes, not from an
    llhttp ``on_message_begin`` callback.)
    """
    seen: list[Any] = []

    class Recording(Sink):
        def statusReceived(self, version, code, reason, headers, length) -> None:
            seen.append((code, reason, dict(headers._rawHeaders), length))

    parser = ResponseParser(Recording())
    parser.feed(
        b"HTTP/1.1 100 Continue\r\nX-A: 1\r\n\r\n"
        b"HTTP/1.1 200 Fine\r\nContent-Length: 2\r\nX-B: 2\r\n\r\nok"
    )
    parser.feed(b"HTTP/1.1 404 Gone\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert seen == [
        (100, b"Continue", {b"x-a": [b"1"]}, 0),
        (200, b"Fine", {b"content-length": [b"2"], b"x-b": [b"2"]}, 2),
        (404, b"Gone", {b"transfer-encoding": [b"chunked"]}, None),
    ]
    events = parseAll(
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"
        b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    heads = [e for e in events if e[0] == "head"]
    assert [(h[2], h[4], h[5]) for h in heads] == [
        (b"/a", [(b"content-length", [b"1"]), (b"host", [b"h"])], 1),
        (b"/b", [(b"host", [b"h"])], 0),
    ]


def test_headerSizeLimitWhateverTheFeeds() -> None:
    """The 16 KiB head limit holds however the bytes are split.

    (Field sizes are only added up when the bytes fed could exceed the
    limit; these shapes cover the switch between the two modes.)
    """
    limit = 16384
    body = b"b" * 20000
    near = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * (limit - 200) + b"\r\n\r\n"
    over = b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"a" * (limit + 10) + b"\r\n\r\n"
    post = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
    # A head just under the limit: whole, split small then large, one byte at a time.
    for stream in (near + post + body, near[:100] + near[100:] + post + body):
        assert parseAll(stream).count(("done",)) == 2
        assert parseAll(stream, [100]).count(("done",)) == 2
    assert parseAll(near, list(range(len(near)))).count(("done",)) == 1
    # Over the limit: in one chunk with a body before it, or small pieces then a large one.
    for stream, splits in ((post + body + over, None), (over, [50, 100]), (over, [8000])):
        with pytest.raises(HTTPParseError) as info:
            parseAll(stream, splits)
        assert info.value.status == 431


def test_trailerSectionSizeLimitAcrossFeeds() -> None:
    """Trailer fields arriving in many small pieces are still size-limited."""
    head = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
    trailers = b"".join(b"T-%d: %s\r\n" % (i, b"v" * 2000) for i in range(9)) + b"\r\n"
    data = head + trailers
    with pytest.raises(HTTPParseError) as info:
        parseAll(data, list(range(0, len(data), 500)))
    assert info.value.status == 431


@pytest.mark.parametrize(
    "connection", [b"", b"Connection: keep-alive\r\n", b"Connection: close\r\n"]
)
def test_request_version_matches_llhttp(connection: bytes) -> None:
    """The version reported (or the refusal) is llhttp's own, whatever the shortcut.

    (The parser skips formatting the version when llhttp keeps the
    connection alive without a Connection field, which it does only for 1.1.)
    """
    from httptools import HttpRequestParser

    class Probe:
        version = ""

        def on_headers_complete(self) -> None:
            self.version = parser.get_http_version()

    for major in range(10):
        for minor in range(10):
            data = b"GET / HTTP/%d.%d\r\nHost: h\r\n%b\r\n" % (major, minor, connection)
            probe = Probe()
            parser = HttpRequestParser(probe)
            try:
                parser.feed_data(data)
            except Exception:
                with pytest.raises(HTTPParseError):
                    parseAll(data)  # llhttp refuses it: so do we
                continue
            if probe.version in ("1.0", "1.1"):
                assert parseAll(data)[0][3] == b"HTTP/" + probe.version.encode()
            else:  # 0.9 or 2.0: llhttp parses it, we answer 400 or 505
                with pytest.raises(HTTPParseError) as info:
                    parseAll(data)
                assert info.value.status in (400, 505)
