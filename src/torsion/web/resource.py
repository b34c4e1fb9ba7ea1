"""A minimal resource tree: Twisted's ``twisted.web.resource``.

Enough for :class:`torsion.web.proxy.ReverseProxyResource` and simple
sites: ``Resource`` with ``putChild``/``getChild``/``getChildWithDefault``,
``isLeaf`` and ``render`` dispatching to ``render_<METHOD>``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["NoResource", "Resource", "getChildForRequest"]


class Resource:
    """A node of the URL tree. Twisted: ``twisted.web.resource.Resource``."""

    isLeaf = False

    def __init__(self) -> None:
        self.children: dict[bytes, Any] = {}

    def putChild(self, path: bytes, child: Any) -> None:
        """Mount ``child`` at segment ``path``. Twisted: ``Resource.putChild``."""
        if not isinstance(path, bytes):
            raise TypeError(f"Path segment must be bytes, not {type(path)!r}")
        self.children[path] = child

    def getChild(self, path: bytes, request: Any) -> Any:
        """A child not registered with putChild (default: 404)."""
        return NoResource()

    def getChildWithDefault(self, path: bytes, request: Any) -> Any:
        """The registered child for ``path``, else :meth:`getChild`."""
        if path in self.children:
            return self.children[path]
        return self.getChild(path, request)

    def render(self, request: Any) -> Any:
        """Call ``render_<METHOD>``; 405 when there is none."""
        handler = getattr(self, "render_" + request.method.decode("ascii", "replace"), None)
        if handler is None:
            request.setResponseCode(405)
            return b"Method Not Allowed\n"
        return handler(request)


class NoResource(Resource):
    """Answers 404. Twisted: ``twisted.web.resource.NoResource``."""

    isLeaf = True

    def render(self, request: Any) -> bytes:
        request.setResponseCode(404)
        request.setHeader(b"content-type", b"text/plain")
        return b"No Such Resource\n"


def getChildForRequest(resource: Any, request: Any) -> Any:
    """Walk ``request.postpath`` down from ``resource``."""
    while request.postpath and not resource.isLeaf:
        name = request.postpath.pop(0)
        request.prepath.append(name)
        resource = resource.getChildWithDefault(name, request)
    return resource
