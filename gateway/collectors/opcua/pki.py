"""Certificates for OPC UA: a self-signed application certificate made on first use, and a
folder of trusted peer certificates compared by their DER bytes.

Files: certificates are written as DER (`.der`), private keys as unencrypted PKCS#8 PEM
(`.pem`, mode 0600). Trusted folders may hold `.der`, `.crt`, `.cer` or `.pem` files.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import re
import socket
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_SUFFIXES = (".der", ".crt", ".cer", ".pem")
_VALID_DAYS = 3650  # an own certificate is replaced by deleting it; no silent yearly breakage


class CertificateError(Exception):
    """A certificate or key file that cannot be read, written or used."""


def thumbprint(der: bytes) -> str:
    """The SHA-1 thumbprint of a certificate, as OPC UA uses it (hex, lower case)."""
    return hashlib.sha1(der, usedforsecurity=False).hexdigest()


def load_der(path: Path) -> bytes:
    """A certificate file (DER or PEM) as DER bytes; CertificateError when unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        if b"-----BEGIN" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise CertificateError(f"{path} is not an X.509 certificate (DER or PEM)") from None
    return cert.public_bytes(serialization.Encoding.DER)


def application_uri_of(der: bytes) -> str | None:
    """The first URI in a certificate's SubjectAltName (an OPC UA application URI), or None."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


def common_name_of(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else ""
    return value if isinstance(value, str) else value.decode(errors="replace")


def file_name_for(der: bytes) -> str:
    """`<common name>_<thumbprint>.der`, safe as a file name, unique per certificate."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", common_name_of(der)).strip("._") or "server"
    return f"{name[:60]}_{thumbprint(der)}.der"


def make_self_signed(
    cert_path: Path,
    key_path: Path,
    application_uri: str,
    common_name: str,
    *,
    server: bool = False,
    hostnames: tuple[str, ...] = (),
    key_size: int = 2048,
) -> None:
    """Write a new RSA key and a self-signed application instance certificate (OPC 10000-6
    6.2.2: the application URI as a URI SubjectAltName, host names as DNS/IP names)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    for host in hostnames or (socket.gethostname(),):
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt.append(x509.DNSName(host))
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # tolerate clock skew
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=True,  # self-signed: it signs itself
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        # the key first and private from its first byte; the certificate marks completion
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    except OSError as exc:
        raise CertificateError(
            f"cannot write the certificate to {cert_path.parent}: {exc.strerror}"
        ) from None


def own_certificate_usable(cert_path: Path, key_path: Path, application_uri: str) -> bool:
    """True when both files exist, the certificate carries `application_uri` and is in date."""
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        der = load_der(cert_path)
    except CertificateError:
        return False
    cert = x509.load_der_x509_certificate(der)
    now = datetime.datetime.now(datetime.UTC)
    in_date = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    return in_date and application_uri_of(der) == application_uri


def trusted(der: bytes, folder: Path) -> Path | None:
    """The file in `folder` holding this very certificate, or None (unreadable files skipped)."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in CERT_SUFFIXES or not path.is_file():
            continue
        try:
            if load_der(path) == der:
                return path
        except CertificateError:
            continue
    return None


def store(der: bytes, folder: Path) -> Path:
    """Write the certificate into `folder` as `file_name_for(der)` (kept if already there)."""
    path = folder / file_name_for(der)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != der:
            path.write_bytes(der)
    except OSError as exc:
        raise CertificateError(f"cannot write {path}: {exc.strerror}") from None
    return path
