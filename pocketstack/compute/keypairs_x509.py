"""x509 keypairs (Nova microversion 2.2, ``"type": "x509"``): a PEM certificate as the
public key, generated (a self-signed RSA 2048 certificate, valid ten years) when none is
given; the fingerprint is the SHA-1 of the certificate's DER form as colon-separated hex
(Nova's ``generate_x509_fingerprint``)."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from pocketstack.common import errors


def x509_fingerprint(pem: str) -> str:
    """The SHA-1 fingerprint of a PEM certificate, colon hex (``aa:bb:...``, 20 bytes).

    Raises:
        errors.BadRequest: ``pem`` is not a PEM x509 certificate (Nova's 400 "Keypair data
        is invalid").
    """
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, TypeError):
        raise errors.BadRequest(
            "Keypair data is invalid: failed to generate X509 fingerprint"
        ) from None
    return ":".join(f"{b:02x}" for b in cert.fingerprint(hashes.SHA1()))  # noqa: S303


def generate_x509(common_name: str) -> tuple[str, str]:
    """A new RSA 2048 key and a self-signed certificate for it as ``(private PEM,
    certificate PEM)``; subject and issuer ``CN=<common_name>``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "keypair")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return private, cert.public_bytes(serialization.Encoding.PEM).decode()
