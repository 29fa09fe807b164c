"""OPC UA security and identity for an asyncua Client: policy and mode, the client's own
certificate (made on first use), the folder of trusted server certificates, user name and
password, and plain-words explanations of the server's refusals.

State directory layout (`SecuritySettings.state_dir`):

    pki/own/client_cert.der, pki/own/client_key.pem   made on first use unless supplied
    pki/trusted/                                      default folder of trusted server certs
    pki/rejected/                                     an untrusted server's cert, to move
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field
from pathlib import Path

from asyncua import Client, ua

from gateway.collectors.opcua import pki, redact
from gateway.collectors.opcua.endpoints import (
    MODES,
    POLICIES,
    TOKEN_NAMES,
    check_names,
    describe,
    server_certificate,
)

__all__ = [  # check_names, describe, POLICIES and MODES live in endpoints; used from here too
    "MODES",
    "POLICIES",
    "NotOffered",
    "Secret",
    "SecurityError",
    "SecuritySettings",
    "UntrustedServerCertificate",
    "application_uri",
    "check_names",
    "configure",
    "describe",
    "ensure_client_certificate",
    "problems",
    "trust_server_certificate",
]

DEFAULT_APPLICATION_URI = f"urn:{socket.gethostname()}:plc-gateway"


class Secret:
    """A password that never shows in repr(), str() or f-strings; `reveal()` gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class SecuritySettings:
    """How to secure one connection. Paths are taken as given (resolve them beforehand)."""

    state_dir: Path
    policy: str = "None"
    mode: str = "None"
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    certificate: Path | None = None  # the client's own; None = made in <state_dir>/pki/own
    private_key: Path | None = None
    trusted_dir: Path | None = None  # None = <state_dir>/pki/trusted
    user_certificate: Path | None = None  # an X.509 identity instead of a user name
    user_private_key: Path | None = None
    application_uri: str = DEFAULT_APPLICATION_URI

    @property
    def trusted_folder(self) -> Path:
        return (
            self.trusted_dir if self.trusted_dir is not None else self.state_dir / "pki" / "trusted"
        )

    @property
    def rejected_folder(self) -> Path:
        return self.state_dir / "pki" / "rejected"

    @property
    def own_folder(self) -> Path:
        return self.state_dir / "pki" / "own"


class SecurityError(Exception):
    """A connection refused for a security reason; str() is the message for the user."""


class UntrustedServerCertificate(SecurityError):
    """The server's certificate is not in the trusted folder (a copy is in `rejected`)."""

    def __init__(self, message: str, certificate: bytes, rejected: Path) -> None:
        super().__init__(message)
        self.certificate = certificate
        self.rejected = rejected


class NotOffered(SecurityError):
    """The server offers no endpoint for the policy/mode or identity asked for."""

    def __init__(self, message: str, offered: list[str]) -> None:
        super().__init__(message)
        self.offered = offered


def problems(settings: SecuritySettings) -> list[str]:
    """Every problem with the settings (names, pairs of options, missing files)."""
    found = check_names(settings.policy, settings.mode)
    pairs = (("certificate", "private_key"), ("user_certificate", "user_private_key"))
    for cert, key in pairs:
        if (getattr(settings, cert) is None) != (getattr(settings, key) is None):
            missing = key if getattr(settings, key) is None else cert
            found.append(f"{cert} and {key} go together: {missing} is missing")
    for name in (name for pair in pairs for name in pair):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            found.append(f"{name} {path} does not exist")
    if settings.password is not None and not settings.username:
        found.append("a password is set but no username")
    if settings.username and settings.user_certificate is not None:
        found.append("username and user_certificate are two identities: choose one")
    return found


def ensure_client_certificate(settings: SecuritySettings) -> tuple[Path, Path]:
    """(certificate, private key) of the client: the supplied pair, or the one in
    <state_dir>/pki/own, made (RSA 2048, self-signed, the application URI as SubjectAltName)
    when missing, expired or made for another application URI. Raises SecurityError."""
    if settings.certificate is not None and settings.private_key is not None:
        return settings.certificate, settings.private_key
    cert, key = settings.own_folder / "client_cert.der", settings.own_folder / "client_key.pem"
    if not pki.own_certificate_usable(cert, key, settings.application_uri):
        try:
            pki.make_self_signed(cert, key, settings.application_uri, "plc-gateway client")
        except pki.CertificateError as exc:
            raise SecurityError(str(exc)) from None
    return cert, key


def application_uri(settings: SecuritySettings) -> str:
    """The URI the client announces: the one in a supplied certificate (servers check that they
    match), else `settings.application_uri`."""
    if settings.certificate is not None and settings.certificate.is_file():
        try:
            return pki.application_uri_of(pki.load_der(settings.certificate)) or (
                settings.application_uri
            )
        except (pki.CertificateError, ValueError):
            pass
    return settings.application_uri


def _pick(
    endpoints: list[ua.EndpointDescription], settings: SecuritySettings
) -> ua.EndpointDescription:
    uri, mode = POLICIES[settings.policy].URI, MODES[settings.mode]
    for ep in endpoints:
        if ep.SecurityPolicyUri == uri and ep.SecurityMode == mode:
            return ep
    offered = describe(endpoints)
    raise NotOffered(
        f"server does not offer {settings.policy}/{settings.mode}; it offers: "
        f"{', '.join(offered) or 'nothing'}",
        offered,
    )


def _check_identity(ep: ua.EndpointDescription, settings: SecuritySettings) -> None:
    wanted = ua.UserTokenType.UserName if settings.username else ua.UserTokenType.Anonymous
    if settings.user_certificate is not None:
        wanted = ua.UserTokenType.Certificate
    tokens = [t.TokenType for t in ep.UserIdentityTokens or []]
    if wanted in tokens:
        return
    accepts = [TOKEN_NAMES.get(t, str(t)) for t in dict.fromkeys(tokens)]
    hint = "; set username and password" if wanted == ua.UserTokenType.Anonymous else ""
    raise NotOffered(
        f"server does not accept {TOKEN_NAMES[wanted]} login on "
        f"{settings.policy}/{settings.mode}; it accepts: {', '.join(accepts) or 'nothing'}{hint}",
        accepts,
    )


def _untrusted(der: bytes, settings: SecuritySettings) -> UntrustedServerCertificate:
    try:
        rejected = pki.store(der, settings.rejected_folder)
    except pki.CertificateError as exc:
        return UntrustedServerCertificate(f"server certificate not trusted ({exc})", der, Path())
    return UntrustedServerCertificate(
        f"server certificate not trusted: saved it as {rejected}; "
        f"move it to {settings.trusted_folder}/ to trust it",
        der,
        rejected,
    )


async def configure(client: Client, settings: SecuritySettings) -> None:
    """Apply `settings` to a not yet connected `client`. Asks the server for its endpoints
    (a short unsecured GetEndpoints exchange), checks that it offers the policy/mode and the
    identity, and that its certificate is trusted; then sets policy, certificates, mode,
    application URI and identity (anonymous, user name and password, or X.509). Raises
    SecurityError (NotOffered, UntrustedServerCertificate) with the message for the user, or
    asyncua/OS errors of the exchange (see `refusals.explain`)."""
    found = problems(settings)
    if found:
        raise SecurityError("; ".join(found))
    client.application_uri = application_uri(settings)
    endpoints = await client.connect_and_get_server_endpoints()
    ep = _pick(endpoints, settings)
    _check_identity(ep, settings)
    if settings.policy != "None":
        der = server_certificate(ep)
        if pki.trusted(der, settings.trusted_folder) is None:
            raise _untrusted(der, settings)
        cert, key = await asyncio.to_thread(ensure_client_certificate, settings)
        try:  # no network here: the server certificate is given
            await client.set_security(
                POLICIES[settings.policy], str(cert), str(key), None, der, MODES[settings.mode]
            )
        except (ValueError, TypeError, OSError) as exc:
            raise SecurityError(f"cannot use certificate {cert} with key {key}: {exc}") from None
    if settings.user_certificate is not None and settings.user_private_key is not None:
        try:
            await client.load_client_certificate(str(settings.user_certificate))
            await client.load_private_key(settings.user_private_key)
        except (ValueError, TypeError, OSError) as exc:
            raise SecurityError(
                f"cannot use user_certificate {settings.user_certificate} with "
                f"user_private_key {settings.user_private_key}: {exc}"
            ) from None
    if settings.username:
        client.set_user(settings.username)
        password = settings.password.reveal() if settings.password else ""
        redact.hide(password)  # asyncua logs requests at DEBUG, passwords included
        client.set_password(password)


async def trust_server_certificate(
    url: str, settings: SecuritySettings, timeout: float = 10
) -> Path | None:
    """Ask the server at `url` for its endpoints and store the certificate of the one matching
    the settings in the trusted folder (for `browse --trust-server-cert`). Returns the path of
    the trusted file (already there or new), or None for policy None (nothing to trust)."""
    if check_names(settings.policy, settings.mode):
        raise SecurityError("; ".join(check_names(settings.policy, settings.mode)))
    if settings.policy == "None":
        return None
    client = Client(url, timeout=timeout)
    ep = _pick(await client.connect_and_get_server_endpoints(), settings)
    der = server_certificate(ep)
    try:
        return pki.trusted(der, settings.trusted_folder) or pki.store(der, settings.trusted_folder)
    except pki.CertificateError as exc:
        raise SecurityError(str(exc)) from None
