"""Certificates made for the tests (with ``cryptography``) and blocking TLS peers."""

from __future__ import annotations

import datetime
import functools
import ipaddress
import os
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Identity:
    """A certificate and its key, as PEM, plus files holding them."""

    certPEM: bytes
    keyPEM: bytes
    certFile: str
    keyFile: str

    @property
    def pem(self) -> bytes:
        return self.certPEM + self.keyPEM


_DIR = tempfile.mkdtemp(prefix="torsion-test-certs-")


def _write(name: str, data: bytes) -> str:
    path = os.path.join(_DIR, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _keyPEM(key: Any) -> bytes:
    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


@functools.cache
def _ca() -> tuple[Any, x509.Certificate, Identity]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("torsion test CA"))
        .issuer_name(_name("torsion test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    certPEM = cert.public_bytes(serialization.Encoding.PEM)
    keyPEM = _keyPEM(key)
    ident = Identity(certPEM, keyPEM, _write("ca.pem", certPEM), _write("ca.key", keyPEM))
    return key, cert, ident


def ca() -> Identity:
    """The test certificate authority."""
    return _ca()[2]


@functools.cache
def leaf(hostname: str = "localhost", expired: bool = False, client: bool = False) -> Identity:
    """A certificate for ``hostname`` (and 127.0.0.1) signed by :func:`ca`."""
    caKey, caCert, _ = _ca()
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    if expired:
        start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
    else:
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
    usage = (
        x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH
        if client
        else (x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hostname))
        .issuer_name(caCert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(caKey.public_key()), critical=False
        )
        .sign(caKey, hashes.SHA256())
    )
    certPEM = cert.public_bytes(serialization.Encoding.PEM)
    keyPEM = _keyPEM(key)
    tag = f"{hostname}-{'expired' if expired else 'valid'}-{'client' if client else 'server'}"
    return Identity(certPEM, keyPEM, _write(f"{tag}.pem", certPEM), _write(f"{tag}.key", keyPEM))


def serverContext(identity: Identity | None = None) -> ssl.SSLContext:
    """A server SSLContext presenting ``identity`` (default: localhost)."""
    identity = identity or leaf()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(identity.certFile, identity.keyFile)
    return ctx


def clientContext() -> ssl.SSLContext:
    """A client SSLContext trusting only the test CA, checking host names."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca().certFile)
    return ctx


def inThread(reactor: Any, f: Callable[[], Any]) -> Any:
    """Run blocking ``f`` in a daemon thread; a Deferred fires with its result."""
    from torsion.internet.defer import Deferred
    from torsion.python.failure import Failure

    d: Deferred[Any] = Deferred()

    def run() -> None:
        try:
            result = f()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            failure = Failure(e)
            reactor.callFromThread(d.errback, failure)
        else:
            reactor.callFromThread(d.callback, result)

    threading.Thread(target=run, daemon=True).start()
    return d


def recvAll(sock: socket.socket | ssl.SSLSocket) -> bytes:
    """Read until the peer closes (for TLS: until close_notify)."""
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
