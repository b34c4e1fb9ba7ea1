"""TLS configuration: options objects over the stdlib ``ssl.SSLContext``.

Twisted: ``twisted.internet.ssl``.  Twisted's options build pyOpenSSL
contexts; torsion's build ``ssl.SSLContext`` objects, which is what the
event loop's TLS layer takes.  Wherever a context factory is accepted
(``listenSSL``, ``connectSSL``, ``startTLS``, the TLS endpoints) a plain
``ssl.SSLContext`` works too.

Certificates and keys may be given as PEM ``bytes``/``str``, as
:class:`Certificate`/:class:`PrivateCertificate`, or as objects of the
``cryptography`` package or pyOpenSSL (converted to PEM).
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence
from typing import Any

from torsion.internet._tls import contextFor

__all__ = [
    "Certificate",
    "CertificateOptions",
    "ClientContextFactory",
    "ClientTLSOptions",
    "DefaultOpenSSLContextFactory",
    "PrivateCertificate",
    "TLSVersion",
    "contextFor",
    "optionsForClientTLS",
    "platformTrust",
    "trustRootFromCertificates",
]

#: TLS protocol versions (``TLSVersion.TLSv1_2``, ``TLSVersion.TLSv1_3``, ...).
#: Twisted: ``twisted.internet.ssl.TLSVersion``.
TLSVersion = ssl.TLSVersion

_CERT_BEGIN = b"-----BEGIN CERTIFICATE-----"


def _pemBlocks(data: bytes) -> tuple[list[bytes], list[bytes]]:
    """Split PEM text into (certificates, private keys)."""
    certs: list[bytes] = []
    keys: list[bytes] = []
    rest = data
    while True:
        start = rest.find(b"-----BEGIN ")
        if start < 0:
            break
        labelEnd = rest.find(b"-----", start + 11)
        if labelEnd < 0:
            break
        label = rest[start + 11 : labelEnd]
        endMarker = b"-----END " + label + b"-----"
        end = rest.find(endMarker, labelEnd)
        if end < 0:
            raise ValueError(f"unterminated PEM block {label.decode(errors='replace')!r}")
        block = rest[start : end + len(endMarker)] + b"\n"
        if label == b"CERTIFICATE":
            certs.append(block)
        elif label.endswith(b"PRIVATE KEY"):
            keys.append(block)
        rest = rest[end + len(endMarker) :]
    return certs, keys


def _asPEM(obj: Any, kind: str) -> bytes:
    """PEM bytes for a certificate (``kind='cert'``) or key (``kind='key'``)."""
    if isinstance(obj, str):
        obj = obj.encode("ascii")
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, PrivateCertificate):
        return obj._keyPEM if kind == "key" else obj._certPEM
    if isinstance(obj, Certificate):
        if kind == "key":
            raise TypeError("a Certificate holds no private key")
        return obj._certPEM
    # pyOpenSSL objects convert to cryptography objects.
    for convert in ("to_cryptography", "to_cryptography_key"):
        method = getattr(obj, convert, None)
        if method is not None:
            obj = method()
            break
    from cryptography.hazmat.primitives import serialization

    if kind == "cert":
        return bytes(obj.public_bytes(serialization.Encoding.PEM))
    return bytes(
        obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _loadChain(context: ssl.SSLContext, pem: bytes) -> None:
    """Load a certificate chain and key held in memory into ``context``.

    ``SSLContext.load_cert_chain`` only reads files, so the PEM goes into a
    private temporary file (mode 0600) that is removed at once.
    """
    fd, path = tempfile.mkstemp(prefix="torsion-tls-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


class Certificate:
    """An X.509 certificate held as PEM. Twisted: ``ssl.Certificate``."""

    def __init__(self, pem: bytes) -> None:
        certs, _ = _pemBlocks(pem)
        if not certs:
            raise ValueError("no PEM certificate found")
        self._certPEM = certs[0]

    @classmethod
    def loadPEM(cls, data: bytes | str) -> Certificate:
        """Load the first certificate of PEM ``data``. Twisted: ``Certificate.loadPEM``."""
        return cls(data.encode("ascii") if isinstance(data, str) else data)

    def dumpPEM(self) -> bytes:
        """The certificate as PEM. Twisted: ``Certificate.dumpPEM``."""
        return self._certPEM

    def options(self, *authorities: Certificate) -> CertificateOptions:
        """Client options trusting ``authorities``. Twisted: ``Certificate.options``."""
        return CertificateOptions(verify=bool(authorities), caCerts=list(authorities) or None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Certificate):
            return NotImplemented
        return self._certPEM == other._certPEM

    def __hash__(self) -> int:
        return hash(self._certPEM)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} ({len(self._certPEM)} bytes of PEM)>"


class PrivateCertificate(Certificate):
    """A certificate with its private key. Twisted: ``ssl.PrivateCertificate``."""

    def __init__(self, certPEM: bytes, keyPEM: bytes) -> None:
        super().__init__(certPEM)
        _, keys = _pemBlocks(keyPEM)
        if not keys:
            raise ValueError("no PEM private key found")
        self._keyPEM = keys[0]

    @classmethod
    def loadPEM(cls, data: bytes | str) -> PrivateCertificate:
        """Load PEM ``data`` holding both a key and a certificate.

        Twisted: ``PrivateCertificate.loadPEM``.
        """
        raw = data.encode("ascii") if isinstance(data, str) else data
        return cls(raw, raw)

    def options(self, *authorities: Certificate) -> CertificateOptions:
        """Server options with this identity, requiring client certificates
        signed by ``authorities`` when given. Twisted: ``PrivateCertificate.options``.
        """
        return CertificateOptions(
            privateKey=self,
            certificate=self,
            verify=bool(authorities),
            caCerts=list(authorities) or None,
        )


class _TrustRoot:
    """Where to find trusted CA certificates."""

    def __init__(self, cadata: bytes | None) -> None:
        self._cadata = cadata

    def _apply(self, context: ssl.SSLContext) -> None:
        if self._cadata is None:
            context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        else:
            context.load_verify_locations(cadata=self._cadata.decode("ascii"))


def platformTrust() -> _TrustRoot:
    """Trust the system's CA certificates. Twisted: ``ssl.platformTrust``."""
    return _TrustRoot(None)


def trustRootFromCertificates(certificates: Sequence[Any]) -> _TrustRoot:
    """Trust only ``certificates``. Twisted: ``ssl.trustRootFromCertificates``."""
    pem = b"".join(_asPEM(c, "cert") for c in certificates)
    if not pem:
        raise ValueError("no certificates to trust")
    return _TrustRoot(pem)


def _trustRoot(trustRoot: Any) -> _TrustRoot:
    if trustRoot is None:
        return platformTrust()
    if isinstance(trustRoot, _TrustRoot):
        return trustRoot
    if isinstance(trustRoot, Certificate):
        return trustRootFromCertificates([trustRoot])
    raise TypeError(f"unsupported trust root {trustRoot!r}")


class ClientTLSOptions:
    """Client options for one server name. Twisted: ``ssl.ClientTLSOptions``.

    Attributes:
        hostname: the name checked against the server's certificate and
            sent in SNI.
    """

    def __init__(self, hostname: str, context: ssl.SSLContext) -> None:
        self._hostname = hostname
        self._context = context

    @property
    def hostname(self) -> str:
        return self._hostname

    def getContext(self) -> ssl.SSLContext:
        """The client ``ssl.SSLContext``."""
        return self._context

    def __repr__(self) -> str:
        return f"<ClientTLSOptions for {self._hostname!r}>"


def optionsForClientTLS(
    hostname: str,
    trustRoot: Any = None,
    clientCertificate: PrivateCertificate | None = None,
    acceptableProtocols: Sequence[bytes] | None = None,
    *,
    extraCertificateOptions: dict[str, Any] | None = None,
) -> ClientTLSOptions:
    """Client TLS options that verify the server's certificate and host name.

    Twisted: ``twisted.internet.ssl.optionsForClientTLS``.

    Args:
        hostname: the server's name (text); checked against its certificate
            (DNS or IP subject alternative names) and sent in SNI.
        trustRoot: the CAs to trust: None for the platform's, a
            :class:`Certificate`, or :func:`trustRootFromCertificates`.
        clientCertificate: a :class:`PrivateCertificate` to present.
        acceptableProtocols: ALPN protocol names, most preferred first.
        extraCertificateOptions: accepted for compatibility; the keys
            ``raiseMinimumTo`` and ``lowerMaximumSecurityTo`` (TLSVersion)
            are honoured, others raise TypeError.

    Raises:
        TypeError: if ``hostname`` is bytes.
    """
    if isinstance(hostname, bytes):
        raise TypeError(
            "optionsForClientTLS requires text for host names, not " + type(hostname).__name__
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for key, value in (extraCertificateOptions or {}).items():
        if key == "raiseMinimumTo":
            context.minimum_version = max(context.minimum_version, value)
        elif key == "lowerMaximumSecurityTo":
            context.maximum_version = value
        else:
            raise TypeError(f"unsupported extraCertificateOptions key {key!r}")
    _trustRoot(trustRoot)._apply(context)
    if clientCertificate is not None:
        _loadChain(context, _asPEM(clientCertificate, "cert") + _asPEM(clientCertificate, "key"))
    if acceptableProtocols:
        context.set_alpn_protocols([p.decode("ascii") for p in acceptableProtocols])
    return ClientTLSOptions(hostname, context)


class CertificateOptions:
    """TLS options for either side. Twisted: ``ssl.CertificateOptions``.

    As a server's context factory (``listenSSL``) it presents ``certificate``
    with ``privateKey`` and, with ``verify=True``, requires a client
    certificate signed by one of ``caCerts``.  As a client's (``connectSSL``)
    it verifies the server's certificate against ``trustRoot``/``caCerts``
    when ``verify`` is true or a trust root is given, without checking the
    host name (use :func:`optionsForClientTLS` for that), as in Twisted.

    Args:
        privateKey: the key (PEM, cryptography or pyOpenSSL object).
        certificate: the certificate (same forms).
        method: ignored (accepted for compatibility); use the version bounds.
        verify: verify the peer's certificate.
        caCerts: certificates to trust for ``verify``.
        requireCertificate: a server with ``verify`` refuses clients without
            a certificate.
        trustRoot: see :func:`optionsForClientTLS`.
        acceptableProtocols: ALPN protocol names.
        raiseMinimumTo: the lowest TLSVersion allowed (default TLS 1.2).
        insecurelyLowerMinimumTo: a lower minimum, on purpose.
        lowerMaximumSecurityTo: the highest TLSVersion allowed.
        extraCertChain: intermediate certificates sent after ``certificate``.
    """

    def __init__(
        self,
        privateKey: Any = None,
        certificate: Any = None,
        method: Any = None,
        verify: bool = False,
        caCerts: Sequence[Any] | None = None,
        requireCertificate: bool = True,
        trustRoot: Any = None,
        acceptableProtocols: Sequence[bytes] | None = None,
        raiseMinimumTo: ssl.TLSVersion | None = None,
        insecurelyLowerMinimumTo: ssl.TLSVersion | None = None,
        lowerMaximumSecurityTo: ssl.TLSVersion | None = None,
        extraCertChain: Sequence[Any] | None = None,
    ) -> None:
        if (privateKey is None) != (certificate is None):
            raise ValueError("Specify neither or both of privateKey and certificate")
        if verify and not caCerts and trustRoot is None:
            raise ValueError("Specify caCerts or trustRoot to verify with")
        self.privateKey = privateKey
        self.certificate = certificate
        self.method = method
        self.verify = verify
        self.caCerts = caCerts
        self.requireCertificate = requireCertificate
        self.trustRoot = trustRoot
        self.acceptableProtocols = acceptableProtocols
        self.extraCertChain = extraCertChain
        minimum = ssl.TLSVersion.TLSv1_2
        if insecurelyLowerMinimumTo is not None:
            minimum = insecurelyLowerMinimumTo
        if raiseMinimumTo is not None:
            minimum = max(minimum, raiseMinimumTo)
        self._minimum = minimum
        self._maximum = lowerMaximumSecurityTo
        self._cache: dict[bool, ssl.SSLContext] = {}

    def _configure(self, context: ssl.SSLContext) -> None:
        context.minimum_version = self._minimum
        if self._maximum is not None:
            context.maximum_version = self._maximum
        if self.certificate is not None:
            pem = _asPEM(self.certificate, "cert")
            for extra in self.extraCertChain or ():
                pem += _asPEM(extra, "cert")
            _loadChain(context, pem + _asPEM(self.privateKey, "key"))
        if self.caCerts:
            cadata = b"".join(_asPEM(c, "cert") for c in self.caCerts)
            context.load_verify_locations(cadata=cadata.decode("ascii"))
        if self.acceptableProtocols:
            context.set_alpn_protocols([p.decode("ascii") for p in self.acceptableProtocols])

    def _serverContext(self) -> ssl.SSLContext:
        context = self._cache.get(True)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._configure(context)
            if self.trustRoot is not None:
                _trustRoot(self.trustRoot)._apply(context)
            if self.verify:
                context.verify_mode = (
                    ssl.CERT_REQUIRED if self.requireCertificate else ssl.CERT_OPTIONAL
                )
            self._cache[True] = context
        return context

    def _clientContext(self) -> ssl.SSLContext:
        context = self._cache.get(False)
        if context is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            self._configure(context)
            if self.verify or self.trustRoot is not None:
                if self.trustRoot is not None:
                    _trustRoot(self.trustRoot)._apply(context)
                context.verify_mode = ssl.CERT_REQUIRED
            else:
                context.verify_mode = ssl.CERT_NONE
            self._cache[False] = context
        return context

    def getContext(self) -> ssl.SSLContext:
        """The context for this side: server-side unless made by
        :meth:`Certificate.options` (Twisted's objects serve both sides; an
        ``ssl.SSLContext`` cannot, and the reactor asks for the right one).
        """
        return self._clientContext() if self._sideIsClient() else self._serverContext()

    def _sideIsClient(self) -> bool:
        return self.certificate is None and self.privateKey is None


class DefaultOpenSSLContextFactory:
    """A server context from key and certificate files.

    Twisted: ``ssl.DefaultOpenSSLContextFactory``.

    Args:
        privateKeyFileName: path of the PEM private key.
        certificateFileName: path of the PEM certificate (chain).
        sslmethod: ignored (accepted for compatibility).
    """

    def __init__(
        self, privateKeyFileName: str, certificateFileName: str, sslmethod: Any = None
    ) -> None:
        self.privateKeyFileName = privateKeyFileName
        self.certificateFileName = certificateFileName
        self.sslmethod = sslmethod
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(certificateFileName, privateKeyFileName)
        self._context = context

    def getContext(self) -> ssl.SSLContext:
        """The server ``ssl.SSLContext``."""
        return self._context


class ClientContextFactory:
    """A client context that does **not** verify the server, as in Twisted.

    Twisted: ``ssl.ClientContextFactory``.  Use :func:`optionsForClientTLS`
    for anything but tests.
    """

    method: Any = None
    isClient = 1

    def getContext(self) -> ssl.SSLContext:
        """A client ``ssl.SSLContext`` without certificate checks."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
