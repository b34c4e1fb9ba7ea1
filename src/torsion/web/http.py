"""HTTP/1.1 server: Twisted's ``twisted.web.http``.

:class:`HTTPChannel` parses requests strictly (llhttp through httptools, with
torsion's checks on top; see :mod:`torsion.web._parser`), keeps connections
alive, answers pipelined requests in order, and streams bodies chunked both
ways.  :class:`Request` is one request and its response; subclass it and set
``HTTPChannel.requestFactory``.  :class:`HTTPFactory` builds channels.

Example (Twisted's classic proxy, with imports renamed)::

    from torsion.web import http, proxy

    class ProxyFactory(http.HTTPFactory):
        protocol = proxy.Proxy
"""

from torsion.web._channel import HTTPChannel
from torsion.web._factory import HTTPFactory, combinedLogFormatter
from torsion.web._headers import Headers
from torsion.web._parser import HTTPParseError, RequestParser, ResponseParser
from torsion.web._request import Request
from torsion.web._responses import (
    ACCEPTED,
    BAD_GATEWAY,
    BAD_REQUEST,
    CONTINUE,
    CREATED,
    FORBIDDEN,
    FOUND,
    GATEWAY_TIMEOUT,
    HTTP_VERSION_NOT_SUPPORTED,
    INTERNAL_SERVER_ERROR,
    MOVED_PERMANENTLY,
    NO_BODY_CODES,
    NO_CONTENT,
    NOT_ALLOWED,
    NOT_FOUND,
    NOT_IMPLEMENTED,
    NOT_MODIFIED,
    OK,
    PARTIAL_CONTENT,
    PROXY_AUTH_REQUIRED,
    REQUEST_ENTITY_TOO_LARGE,
    REQUEST_TIMEOUT,
    RESPONSES,
    SEE_OTHER,
    SERVICE_UNAVAILABLE,
    SWITCHING,
    TEMPORARY_REDIRECT,
    UNAUTHORIZED,
)

__all__ = [
    "ACCEPTED",
    "BAD_GATEWAY",
    "BAD_REQUEST",
    "CONTINUE",
    "CREATED",
    "FORBIDDEN",
    "FOUND",
    "GATEWAY_TIMEOUT",
    "HTTP_VERSION_NOT_SUPPORTED",
    "INTERNAL_SERVER_ERROR",
    "MOVED_PERMANENTLY",
    "NOT_ALLOWED",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "NOT_MODIFIED",
    "NO_BODY_CODES",
    "NO_CONTENT",
    "OK",
    "PARTIAL_CONTENT",
    "PROXY_AUTH_REQUIRED",
    "REQUEST_ENTITY_TOO_LARGE",
    "REQUEST_TIMEOUT",
    "RESPONSES",
    "SEE_OTHER",
    "SERVICE_UNAVAILABLE",
    "SWITCHING",
    "TEMPORARY_REDIRECT",
    "UNAUTHORIZED",
    "HTTPChannel",
    "HTTPFactory",
    "HTTPParseError",
    "Headers",
    "Request",
    "RequestParser",
    "ResponseParser",
    "combinedLogFormatter",
]
