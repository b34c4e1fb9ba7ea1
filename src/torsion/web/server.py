"""A minimal web server: Twisted's ``twisted.web.server`` (``Site``, ``Request``).

``Site(resource)`` is an :class:`HTTPFactory` whose requests walk the
resource tree and render the resource found; ``render`` returns bytes or
``NOT_DONE_YET`` (then the resource finishes the request itself).
"""

from __future__ import annotations

from typing import Any

from torsion.python.failure import Failure
from torsion.web import resource as _resource
from torsion.web._channel import HTTPChannel
from torsion.web._factory import HTTPFactory
from torsion.web._request import Request as _HTTPRequest

__all__ = ["NOT_DONE_YET", "Request", "Site"]

#: Returned by ``render`` when the resource finishes the request later.
NOT_DONE_YET = 1


class Request(_HTTPRequest):
    """A request served from a resource tree. Twisted: ``twisted.web.server.Request``."""

    site: Any = None

    def __init__(self, channel: Any, queued: Any = None) -> None:
        super().__init__(channel)
        self.prepath: list[bytes] = []
        self.postpath: list[bytes] = []
        self.site = getattr(channel, "site", None)

    def process(self) -> None:
        self.prepath = []
        self.postpath = self.path[1:].split(b"/") if self.path.startswith(b"/") else []
        try:
            found = _resource.getChildForRequest(self.site.resource, self)
            body = found.render(self)
        except Exception:
            self.processingFailed(Failure())
            return
        if body == NOT_DONE_YET:
            return
        if not isinstance(body, bytes):
            self.processingFailed(Failure(TypeError(f"render returned {body!r}")))
            return
        if not self.startedWriting:
            self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class Site(HTTPFactory):
    """Serves a resource tree. Twisted: ``twisted.web.server.Site``.

    Args:
        resource: the root resource.
        requestFactory: the request class (default :class:`Request`).
        reactor: the reactor for timeouts.
    """

    requestFactory: Any = Request

    def __init__(self, resource: Any, requestFactory: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.resource = resource
        if requestFactory is not None:
            self.requestFactory = requestFactory

    def buildProtocol(self, addr: Any) -> Any:
        channel = HTTPChannel()
        channel.requestFactory = self.requestFactory
        channel.factory = self
        channel.site = self  # type: ignore[attr-defined]
        channel.timeOut = self.timeOut
        channel._clock = self._getReactor()
        return channel
