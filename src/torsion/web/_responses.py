"""HTTP status codes and their reason phrases. Twisted: ``twisted.web._responses``."""

from __future__ import annotations

RESPONSES: dict[int, bytes] = {
    100: b"Continue",
    101: b"Switching Protocols",
    102: b"Processing",
    103: b"Early Hints",
    200: b"OK",
    201: b"Created",
    202: b"Accepted",
    203: b"Non-Authoritative Information",
    204: b"No Content",
    205: b"Reset Content",
    206: b"Partial Content",
    207: b"Multi-Status",
    300: b"Multiple Choices",
    301: b"Moved Permanently",
    302: b"Found",
    303: b"See Other",
    304: b"Not Modified",
    305: b"Use Proxy",
    307: b"Temporary Redirect",
    308: b"Permanent Redirect",
    400: b"Bad Request",
    401: b"Unauthorized",
    402: b"Payment Required",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    406: b"Not Acceptable",
    407: b"Proxy Authentication Required",
    408: b"Request Timeout",
    409: b"Conflict",
    410: b"Gone",
    411: b"Length Required",
    412: b"Precondition Failed",
    413: b"Request Entity Too Large",
    414: b"Request-URI Too Long",
    415: b"Unsupported Media Type",
    416: b"Requested Range not satisfiable",
    417: b"Expectation Failed",
    418: b"I'm a teapot",
    421: b"Misdirected Request",
    426: b"Upgrade Required",
    428: b"Precondition Required",
    429: b"Too Many Requests",
    431: b"Request Header Fields Too Large",
    500: b"Internal Server Error",
    501: b"Not Implemented",
    502: b"Bad Gateway",
    503: b"Service Unavailable",
    504: b"Gateway Time-out",
    505: b"HTTP Version not supported",
    507: b"Insufficient Storage",
    511: b"Network Authentication Required",
}

# Twisted's module-level names for the codes.
CONTINUE = 100
SWITCHING = 101
OK = 200
CREATED = 201
ACCEPTED = 202
NO_CONTENT = 204
PARTIAL_CONTENT = 206
MOVED_PERMANENTLY = 301
FOUND = 302
SEE_OTHER = 303
NOT_MODIFIED = 304
TEMPORARY_REDIRECT = 307
BAD_REQUEST = 400
UNAUTHORIZED = 401
FORBIDDEN = 403
NOT_FOUND = 404
NOT_ALLOWED = 405
PROXY_AUTH_REQUIRED = 407
REQUEST_TIMEOUT = 408
REQUEST_ENTITY_TOO_LARGE = 413
INTERNAL_SERVER_ERROR = 500
NOT_IMPLEMENTED = 501
BAD_GATEWAY = 502
SERVICE_UNAVAILABLE = 503
GATEWAY_TIMEOUT = 504
HTTP_VERSION_NOT_SUPPORTED = 505

NO_BODY_CODES = (204, 304)


class _CodeBytes(dict[int, bytes]):
    """``CODE_BYTES[200]`` -> ``b"200"``: a lookup for 100-599, formatted otherwise."""

    def __missing__(self, code: int) -> bytes:
        return b"%d" % code


class _CodeInts(dict[bytes, int]):
    """``CODE_INTS[b"200"]`` -> ``200``: a lookup for 100-599, ``int()`` otherwise."""

    def __missing__(self, text: bytes) -> int:
        return int(text)


# Status codes as they go in a status line, and back: a table lookup per
# response instead of formatting (or parsing) the number.
CODE_BYTES = _CodeBytes({code: b"%d" % code for code in range(100, 600)})
CODE_INTS = _CodeInts({text: code for code, text in CODE_BYTES.items()})
