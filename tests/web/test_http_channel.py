"""HTTPChannel and Request on a StringTransport and a Clock (no sockets, no real time)."""

from __future__ import annotations

from tests.web.helpers import EchoRequest, HeldRequest, makeChannel, statusLines
from torsion.internet.task import Clock
from torsion.python.failure import Failure
from torsion.web import http


def test_keepAliveTwoRequests() -> None:
    """Two requests on one connection are both answered; the connection stays open."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n")
    ch.dataReceived(b"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert tr.value().endswith(b"POST /2 hi")
    assert len(statusLines(tr.value())) == 2
    assert not tr.disconnecting


def test_pipelinedAnsweredInOrder() -> None:
    """Pipelined requests are processed one at a time, answered in request order."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest)
    ch.dataReceived(b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert [r.uri for r in HeldRequest.held] == [b"/1"]
    first = HeldRequest.held[0]
    first.setHeader(b"content-length", b"1")
    first.write(b"1")
    first.finish()
    assert [r.uri for r in HeldRequest.held] == [b"/1", b"/2"]
    second = HeldRequest.held[1]
    second.setHeader(b"content-length", b"1")
    second.write(b"2")
    second.finish()
    body = tr.value()
    assert body.index(b"\r\n\r\n1") < body.index(b"\r\n\r\n2")


def test_readingPausedPastPipelineBound() -> None:
    """Past maxPipelinedRequests waiting requests, the channel stops reading."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest, maxPipelinedRequests=2)
    ch.dataReceived(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
    assert tr.producerState == "paused"
    for _ in range(3):
        req = HeldRequest.held[-1]
        req.finish()
    assert tr.producerState == "producing"


def test_chunkedResponseForHttp11() -> None:
    """A response without Content-Length to HTTP/1.1 is sent chunked."""

    class Chunky(http.Request):
        def process(self) -> None:
            self.write(b"abc")
            self.write(b"de")
            self.finish()

    ch, tr, _ = makeChannel(Chunky)
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert tr.value().endswith(
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )  # noqa: E501


def test_http10ClosesAfterResponse() -> None:
    """An HTTP/1.0 request gets its response and then the connection closes."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(b"GET /a HTTP/1.0\r\n\r\n")
    assert tr.value().startswith(b"HTTP/1.0 200 OK")
    assert tr.disconnecting


def test_connectionCloseHonoured() -> None:
    """Connection: close from an HTTP/1.1 client closes after the response."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Connection: close" in tr.value()
    assert tr.disconnecting


def test_malformedGets400AndClose() -> None:
    """A malformed request gets 400 with a short body and the connection closes."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost : x\r\n\r\n")
    assert tr.value().startswith(b"HTTP/1.1 400 Bad Request")
    assert tr.disconnecting


def test_errorAfterPipelinedRequestsComesLast() -> None:
    """A bad request behind a good one is answered 400 only after the good response."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest)
    ch.dataReceived(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost : x\r\n\r\n")
    assert tr.value() == b""
    req = HeldRequest.held[0]
    req.setHeader(b"content-length", b"2")
    req.write(b"ok")
    req.finish()
    assert statusLines(tr.value()) == [b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request"]
    assert tr.disconnecting


def test_headersTooLarge431() -> None:
    """A request head over totalHeadersSize gets 431."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
    assert tr.value().startswith(b"HTTP/1.1 431 ")


def test_bodyTooLarge413() -> None:
    """A body over maxBodySize gets 413."""
    ch, tr, _ = makeChannel(maxBodySize=4)
    ch.dataReceived(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert tr.value().startswith(b"HTTP/1.1 413 ")


def test_expectContinue() -> None:
    """Expect: 100-continue gets an interim 100 before the body is read."""
    ch, tr, _ = makeChannel()
    ch.dataReceived(
        b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    )
    assert tr.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    ch.dataReceived(b"ok")
    assert tr.value().endswith(b"POST /e ok")


def test_headerDeadlineStopsSlowloris() -> None:
    """A head dripped one byte a second is cut at the header deadline, not reset by activity."""
    clock = Clock()
    ch, tr, _ = makeChannel(clock=clock, timeOut=60.0, headerTimeout=10.0)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 100
    for byte in head[:15]:
        ch.dataReceived(bytes([byte]))
        clock.advance(1)
    assert tr.value().startswith(b"HTTP/1.1 408 ")
    assert tr.disconnecting
    assert not clock.getDelayedCalls()


def test_idleTimeoutSeparate() -> None:
    """An idle keep-alive connection is closed after timeOut, not after headerTimeout."""
    clock = Clock()
    ch, tr, _ = makeChannel(clock=clock, timeOut=30.0, headerTimeout=10.0)
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    clock.advance(15)
    assert not tr.disconnecting
    clock.advance(16)
    assert tr.disconnecting
    assert not clock.getDelayedCalls()


def test_notifyFinishErrbackOnLoss() -> None:
    """notifyFinish fails when the connection is lost before the response finishes."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest)
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    req = HeldRequest.held[0]
    results: list[object] = []
    req.notifyFinish().addBoth(results.append)
    ch.connectionLost(Failure(ConnectionError("gone")))
    assert isinstance(results[0], Failure)
    assert req.channel is None


def test_requestAttributes() -> None:
    """method, uri, path, args, headers and client address are set as in Twisted."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest)
    ch.dataReceived(b"GET /p/q?a=1&a=2&b= HTTP/1.1\r\nHost: x:81\r\nX-Y: z\r\n\r\n")
    req = HeldRequest.held[0]
    assert (req.method, req.uri, req.path) == (b"GET", b"/p/q?a=1&a=2&b=", b"/p/q")
    assert req.args == {b"a": [b"1", b"2"], b"b": [b""]}
    assert req.getHeader(b"x-y") == b"z"
    assert req.requestHeaders.getRawHeaders("X-Y") == ["z"]
    assert req.getRequestHostname() == b"x"
    assert req.getClientAddress().host == "192.168.1.1"


def test_headersSanitized() -> None:
    """CR/LF in a response header value cannot split the response."""
    HeldRequest.held = []
    ch, tr, _ = makeChannel(HeldRequest)
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    req = HeldRequest.held[0]
    req.setHeader(b"x-evil", b"a\r\nSet-Cookie: pwned")
    req.finish()
    assert b"\r\nSet-Cookie" not in tr.value()


def test_pullProducer() -> None:
    """A pull producer registered on a request is driven until it unregisters."""
    clock = Clock()

    class Pull:
        def __init__(self, req: http.Request) -> None:
            self.req = req
            self.left = 3

        def resumeProducing(self) -> None:
            self.left -= 1
            self.req.write(b"x")
            if not self.left:
                self.req.unregisterProducer()
                self.req.finish()

        def stopProducing(self) -> None:
            pass

    class Req(http.Request):
        def process(self) -> None:
            self.registerProducer(Pull(self), False)

    ch, tr, _ = makeChannel(Req, clock=clock)
    ch.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    for _ in range(5):
        clock.advance(0)
    assert tr.value().endswith(b"1\r\nx\r\n1\r\nx\r\n1\r\nx\r\n0\r\n\r\n")


def test_echoRequestUsedByOtherTests() -> None:
    """The EchoRequest helper answers with method, uri and body."""
    ch, tr, _ = makeChannel(EchoRequest)
    ch.dataReceived(b"PUT /z HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n!")
    assert tr.value().endswith(b"PUT /z !")
