"""serverFromString and clientFromString: built-in types, errors, registry, fuzzing, parity."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import endpoints as tendpoints
from twisted.internet.testing import MemoryReactor as TwistedMemoryReactor

from torsion.internet import endpoints
from torsion.internet._endpointstrings import _clientBuilders, _serverBuilders
from torsion.internet.testing import MemoryReactor


def state(endpoint: Any) -> tuple[str, dict[str, Any]]:
    """An endpoint's class name and configuration (its attributes but the reactor)."""
    return type(endpoint).__name__, {k: v for k, v in vars(endpoint).items() if k != "_reactor"}


@pytest.fixture
def registry() -> Any:
    """Restore the prefix tables after a test that registers prefixes."""
    saved = dict(_serverBuilders), dict(_clientBuilders)
    yield
    _serverBuilders.clear()
    _serverBuilders.update(saved[0])
    _clientBuilders.clear()
    _clientBuilders.update(saved[1])


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("tcp:8080", ("TCP4ServerEndpoint", {"_port": 8080, "_backlog": 50, "_interface": ""})),
        (
            "tcp:8080:interface=127.0.0.1",
            ("TCP4ServerEndpoint", {"_port": 8080, "_backlog": 50, "_interface": "127.0.0.1"}),
        ),
        (
            "tcp:1234:backlog=12:interface=10.0.0.1",
            ("TCP4ServerEndpoint", {"_port": 1234, "_backlog": 12, "_interface": "10.0.0.1"}),
        ),
        (
            "tcp:80:127.0.0.1:7",
            ("TCP4ServerEndpoint", {"_port": 80, "_backlog": 7, "_interface": "127.0.0.1"}),
        ),
        ("TCP:80", ("TCP4ServerEndpoint", {"_port": 80, "_backlog": 50, "_interface": ""})),
        ("tcp6:8080", ("TCP6ServerEndpoint", {"_port": 8080, "_backlog": 50, "_interface": "::"})),
        (
            "tcp6:8080:interface=\\:\\:1:backlog=3",
            ("TCP6ServerEndpoint", {"_port": 8080, "_backlog": 3, "_interface": "::1"}),
        ),
        (
            "unix:/var/run/finger",
            (
                "UNIXServerEndpoint",
                {"_address": "/var/run/finger", "_backlog": 50, "_mode": 0o666, "_wantPID": True},
            ),
        ),
        (
            "unix:/var/run/finger:mode=660:lockfile=0:backlog=9",
            (
                "UNIXServerEndpoint",
                {"_address": "/var/run/finger", "_backlog": 9, "_mode": 0o660, "_wantPID": False},
            ),
        ),
    ],
)
def test_server_descriptions(description: str, expected: Any) -> None:
    """serverFromString builds the endpoint Twisted builds for the same description."""
    reactor = MemoryReactor()
    endpoint = endpoints.serverFromString(reactor, description)
    assert endpoint._reactor is reactor
    assert state(endpoint) == expected


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (
            "tcp:example.com:80",
            (
                "TCP4ClientEndpoint",
                {"_host": "example.com", "_port": 80, "_timeout": 30, "_bindAddress": None},
            ),
        ),
        (
            "tcp:host=h:port=8:timeout=5",
            ("TCP4ClientEndpoint", {"_host": "h", "_port": 8, "_timeout": 5, "_bindAddress": None}),
        ),
        (
            "tcp:host=h:8",
            (
                "TCP4ClientEndpoint",
                {"_host": "h", "_port": 8, "_timeout": 30, "_bindAddress": None},
            ),
        ),
        (
            "tcp:h:port=8:bindAddress=10.0.0.2:timeout=2.5",
            (
                "TCP4ClientEndpoint",
                {"_host": "h", "_port": 8, "_timeout": 2.5, "_bindAddress": ("10.0.0.2", 0)},
            ),
        ),
        (
            "tcp6:\\:\\:1:80",
            (
                "TCP6ClientEndpoint",
                {"_host": "::1", "_port": 80, "_timeout": 30, "_bindAddress": None},
            ),
        ),
        (
            "unix:/var/foo/bar",
            ("UNIXClientEndpoint", {"_path": "/var/foo/bar", "_timeout": 30, "_checkPID": 0}),
        ),
        (
            "unix:path=/var/foo/bar:lockfile=1:timeout=9",
            ("UNIXClientEndpoint", {"_path": "/var/foo/bar", "_timeout": 9, "_checkPID": True}),
        ),
    ],
)
def test_client_descriptions(description: str, expected: Any) -> None:
    """clientFromString builds the configured client endpoint."""
    endpoint = endpoints.clientFromString(MemoryReactor(), description)
    assert state(endpoint) == expected


@pytest.mark.parametrize(
    ("kind", "description", "fragment"),
    [
        ("server", "tcp", "'tcp' needs the argument 'port'"),
        ("server", "tcp:http", "port must be a number from 0 to 65535, not 'http'"),
        ("server", "tcp:65536", "port must be a number from 0 to 65535, not '65536'"),
        ("server", "tcp:-1", "not '-1'"),
        ("server", "tcp:\u0668\u0660", "not '\u0668\u0660'"),
        (
            "server",
            "tcp:80:interfase=127.0.0.1",
            "unknown argument 'interfase' for 'tcp' (expected: port, interface, backlog)",
        ),
        ("server", "tcp:80:a:1:extra", "'extra' is one too many"),
        ("server", "tcp:80:port=81", "argument 'port' for 'tcp' is given both by position"),
        ("server", "tcp:80:backlog=lots", "backlog must be a whole number, not 'lots'"),
        ("server", "unix:/s:mode=999", "mode must be octal permissions"),
        ("server", "unix:", "address must not be empty"),
        ("server", "unix:/a\x00b", "must not contain a NUL"),
        ("server", "nope:80", "unknown endpoint type 'nope' (known: ssl, tcp, tcp6, unix)"),
        ("server", "80", "unknown endpoint type '80'"),
        ("client", "tcp:example.com", "'tcp' needs the argument 'port'"),
        ("client", "tcp::80", "host must not be empty"),
        ("client", "tcp:h:80:x", "'x' is one too many"),
        ("client", "tcp:h:80:host=g", "argument 'host' for 'tcp' is given both"),
        ("client", "tcp:h:80:timeout=soon", "timeout must be a number of seconds, not 'soon'"),
        ("client", "unix:timeout=3", "'unix' needs the argument 'path'"),
    ],
)
def test_bad_arguments(kind: str, description: str, fragment: str) -> None:
    """A bad argument gives a ValueError that quotes the description and names the argument."""
    build = endpoints.serverFromString if kind == "server" else endpoints.clientFromString
    with pytest.raises(ValueError) as info:
        build(MemoryReactor(), description)
    assert str(info.value).startswith(f"bad endpoint description {description!r}: ")
    assert fragment in str(info.value)


def test_register_server_parser(registry: Any) -> None:
    """A registered prefix is built by its builder, with the reactor and string arguments."""
    calls = []

    def build(reactor: Any, *args: str, **kwargs: str) -> str:
        calls.append((reactor, args, kwargs))
        return "endpoint"

    endpoints.registerServerParser("Fake", build)
    reactor = MemoryReactor()
    assert endpoints.serverFromString(reactor, "fake:a:b=c") == "endpoint"
    assert calls == [(reactor, ("a",), {"b": "c"})]
    with pytest.raises(ValueError, match="already registered"):
        endpoints.registerServerParser("fake", build)
    endpoints.registerServerParser("fake", lambda reactor: "other", replace=True)
    assert endpoints.serverFromString(reactor, "FAKE") == "other"


def test_register_lazy_client_parser(registry: Any) -> None:
    """A 'module:function' builder is imported on first use."""
    endpoints.registerClientParser("same", "torsion.internet._endpointstrings:_tcpClient")
    endpoint = endpoints.clientFromString(MemoryReactor(), "same:h:1")
    assert state(endpoint)[0] == "TCP4ClientEndpoint"


def test_builder_value_errors_are_qualified(registry: Any) -> None:
    """A builder's ValueError is re-raised with the description in front."""

    def build(reactor: Any, *args: str) -> Any:
        raise ValueError("certKey is missing")

    endpoints.registerClientParser("x", build)
    with pytest.raises(ValueError, match=r"^bad endpoint description 'x:1': certKey is missing$"):
        endpoints.clientFromString(MemoryReactor(), "x:1")


@pytest.mark.parametrize("prefix", ["", "a:b", "a=b", "a b", 3])
def test_register_rejects_bad_prefixes(prefix: Any, registry: Any) -> None:
    """Prefixes that the grammar could not produce are refused."""
    with pytest.raises(ValueError, match="endpoint prefix"):
        endpoints.registerServerParser(prefix, lambda reactor: None)


# -- fuzzing --------------------------------------------------------------------

pieces = st.sampled_from(
    [
        "80",
        "0",
        "65535",
        "65536",
        "-1",
        "+1",
        " 8",
        "1.5",
        "",
        "127.0.0.1",
        "/tmp/s",
        "interface=::1",
        "interface=",
        "backlog=5",
        "backlog=x",
        "mode=660",
        "mode=9",
        "lockfile=0",
        "lockfile=1",
        "host=h",
        "port=8",
        "timeout=5",
        "timeout=2.5",
        "bindAddress=1.2.3.4",
        "path=/p",
        "foo=1",
        "\\:",
        "a\\=b",
        "\u0668\u0660",
        "=",
        "\\",
    ]
)
parts = st.lists(st.one_of(pieces, st.text(alphabet="ab1:=\\ \x00.", max_size=8)), max_size=5)
descriptions = st.builds(
    lambda prefix, args: ":".join([prefix, *args]),
    st.sampled_from(["tcp", "tcp6", "unix", "TCP", "ssl", ""]),
    parts,
)


@settings(max_examples=400)
@given(st.one_of(descriptions, st.text(max_size=40)))
def test_any_string_gives_endpoint_or_value_error(description: str) -> None:
    """Any string gives an endpoint or a ValueError, never another exception."""
    for build in (endpoints.serverFromString, endpoints.clientFromString):
        try:
            endpoint = build(MemoryReactor(), description)
        except ValueError as e:
            assert str(e).startswith("bad endpoint description ")
        else:
            assert hasattr(endpoint, "listen") or hasattr(endpoint, "connect")


# Mostly well-formed descriptions, so that many are accepted and compared.
portish = st.sampled_from(["80", "0", "65535", "8080", "443", "65536", "-1", "+1", "", "http"])


def keywords(*choices: str) -> Any:
    return st.lists(st.sampled_from([*choices, "foo=1"]), max_size=2, unique=True)


twistedDescriptions = st.one_of(
    st.builds(
        lambda port, rest: ":".join(["tcp", port, *rest]),
        portish,
        keywords("interface=127.0.0.1", "interface=", "backlog=5", "backlog=x", "127.0.0.1"),
    ),
    st.builds(
        lambda host, port, rest: ":".join(["tcp", host, port, *rest]),
        st.sampled_from(["h", "127.0.0.1", "", "a\\:b", "host=h"]),
        portish,
        keywords("timeout=5", "timeout=-1", "bindAddress=1.2.3.4", "port=8", "host=h"),
    ),
    st.builds(
        lambda path, rest: ":".join(["unix", path, *rest]),
        st.sampled_from(["/tmp/s", "", "C\\:/s", "path=/p"]),
        keywords("mode=660", "mode=0o600", "lockfile=0", "lockfile=2", "backlog=5", "timeout=3"),
    ),
)


@settings(max_examples=400)
@given(twistedDescriptions)
def test_accepted_descriptions_match_twisted(description: str) -> None:
    """Whatever torsion accepts, Twisted builds the same endpoint from."""
    for ours, theirs in (
        (endpoints.serverFromString, tendpoints.serverFromString),
        (endpoints.clientFromString, tendpoints.clientFromString),
    ):
        try:
            endpoint = ours(MemoryReactor(), description)
        except ValueError:
            continue
        if isinstance(getattr(endpoint, "_timeout", 0), float):
            continue  # torsion also accepts fractional timeouts; Twisted wants an int.
        assert state(endpoint) == state(theirs(TwistedMemoryReactor(), description))


def test_tls_prefixes_are_registered() -> None:
    """ssl: (server and client) and tls: (client) strings build TLS endpoints."""

    clientFromString = endpoints.clientFromString
    client = clientFromString(MemoryReactor(), "tls:example.com:443")
    assert type(client).__name__ == "SSL4ClientEndpoint"
    client = clientFromString(MemoryReactor(), "ssl:host=example.com:port=443")
    assert type(client).__name__ == "SSL4ClientEndpoint"
    with pytest.raises(ValueError, match="unknown argument 'nonsense' for 'tls'"):
        clientFromString(MemoryReactor(), "tls:example.com:443:nonsense=1")
