"""torsion.internet.ssl: options objects over ssl.SSLContext (no I/O)."""

from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.internet.tlshelpers import ca, leaf
from torsion.internet import _tls
from torsion.internet.ssl import (
    Certificate,
    CertificateOptions,
    ClientContextFactory,
    DefaultOpenSSLContextFactory,
    PrivateCertificate,
    TLSVersion,
    _pemBlocks,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)


def test_options_for_client_tls_verifies() -> None:
    """optionsForClientTLS makes a verifying client context with the host name."""
    options = optionsForClientTLS("example.com", trustRoot=Certificate.loadPEM(ca().certPEM))
    ctx = options.getContext()
    assert ctx.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.minimum_version == TLSVersion.TLSv1_2
    assert options.hostname == "example.com"
    assert _tls.contextFor(options, server=False) == (ctx, "example.com")
    assert len(ctx.get_ca_certs()) == 1


def test_options_for_client_tls_rejects_bytes() -> None:
    """Host names must be text, as in Twisted."""
    with pytest.raises(TypeError, match="requires text for host names"):
        optionsForClientTLS(b"example.com")  # type: ignore[arg-type]


def test_extra_certificate_options() -> None:
    """raiseMinimumTo is honoured; unknown keys are refused."""
    options = optionsForClientTLS(
        "h",
        trustRoot=platformTrust(),
        extraCertificateOptions={"raiseMinimumTo": TLSVersion.TLSv1_3},
    )
    assert options.getContext().minimum_version == TLSVersion.TLSv1_3
    with pytest.raises(TypeError):
        optionsForClientTLS("h", extraCertificateOptions={"method": 1})


def test_certificate_options_both_sides() -> None:
    """CertificateOptions gives a server context with the identity and a client one."""
    ident = leaf()
    options = CertificateOptions(
        privateKey=ident.keyPEM,
        certificate=ident.certPEM,
        verify=True,
        caCerts=[Certificate.loadPEM(ca().certPEM)],
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    server, _ = _tls.contextFor(options, server=True)
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    assert server.verify_mode == ssl.CERT_REQUIRED
    assert options.getContext() is server
    client, hostname = _tls.contextFor(options, server=False)
    assert client.protocol == ssl.PROTOCOL_TLS_CLIENT
    assert client.verify_mode == ssl.CERT_REQUIRED and not client.check_hostname
    assert hostname is None


def test_certificate_options_argument_checks() -> None:
    """A key without a certificate, or verify without CAs, is refused."""
    with pytest.raises(ValueError, match="neither or both"):
        CertificateOptions(privateKey=leaf().keyPEM)
    with pytest.raises(ValueError, match="caCerts or trustRoot"):
        CertificateOptions(verify=True)


def test_cryptography_and_pyopenssl_objects() -> None:
    """Keys and certificates may be cryptography or pyOpenSSL objects."""
    from OpenSSL import crypto

    ident = leaf()
    cert = x509.load_pem_x509_certificate(ident.certPEM)
    key = serialization.load_pem_private_key(ident.keyPEM, None)
    CertificateOptions(privateKey=key, certificate=cert)._serverContext()
    pkey = crypto.PKey.from_cryptography_key(key)  # type: ignore[arg-type]
    x509cert = crypto.X509.from_cryptography(cert)
    CertificateOptions(privateKey=pkey, certificate=x509cert)._serverContext()


def test_private_certificate_round_trip() -> None:
    """PrivateCertificate.loadPEM finds key and certificate in one PEM text."""
    ident = leaf()
    private = PrivateCertificate.loadPEM(ident.keyPEM + ident.certPEM)
    assert private.dumpPEM() == ident.certPEM
    assert Certificate.loadPEM(ident.certPEM) == private
    ctx = private.options()._serverContext()
    assert ctx.verify_mode == ssl.CERT_NONE
    with pytest.raises(ValueError, match="no PEM private key"):
        PrivateCertificate.loadPEM(ident.certPEM)
    with pytest.raises(ValueError, match="no PEM certificate"):
        Certificate.loadPEM(b"garbage")
    authority = Certificate.loadPEM(ca().certPEM)
    assert authority.options(authority).getContext().verify_mode == ssl.CERT_REQUIRED
    assert authority.options().getContext().verify_mode == ssl.CERT_NONE


def test_trust_roots() -> None:
    """trustRootFromCertificates needs at least one certificate."""
    with pytest.raises(ValueError):
        trustRootFromCertificates([])
    with pytest.raises(TypeError):
        optionsForClientTLS("h", trustRoot=object())


def test_context_factories_from_files() -> None:
    """DefaultOpenSSLContextFactory reads files; ClientContextFactory does not verify."""
    ident = leaf()
    server = DefaultOpenSSLContextFactory(ident.keyFile, ident.certFile).getContext()
    assert server.protocol == ssl.PROTOCOL_TLS_SERVER
    client = ClientContextFactory().getContext()
    assert client.verify_mode == ssl.CERT_NONE and not client.check_hostname


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["cert", "key", "other", "junk"]), max_size=6))
def test_pem_blocks_split(kinds: list[str]) -> None:
    """_pemBlocks sorts any mix of PEM blocks and text into certificates and keys."""
    ident = leaf()
    parts = {
        "cert": ident.certPEM,
        "key": ident.keyPEM,
        "other": b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        "junk": b"some text\n",
    }
    certs, keys = _pemBlocks(b"".join(parts[k] for k in kinds))
    assert len(certs) == kinds.count("cert")
    assert len(keys) == kinds.count("key")
    assert all(c.strip() == ident.certPEM.strip() for c in certs)


def test_unterminated_pem_block() -> None:
    """A PEM block without its END line is an error."""
    with pytest.raises(ValueError, match="unterminated"):
        _pemBlocks(b"-----BEGIN CERTIFICATE-----\nAAAA\n")
