"""Security of the simulated OPC UA PLC: which endpoints it offers, its certificate, who may
log in.

`--opcua-security` takes a comma-separated list of levels:

    none     SecurityPolicy None (the default, alone: as before)
    sign     Basic256Sha256 Sign
    encrypt  Basic256Sha256 SignAndEncrypt
    all      Basic256Sha256, Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss, each Sign and
             SignAndEncrypt

Only the levels listed are offered: `sign,encrypt` is a secured-only server, `none,encrypt`
offers both. The server certificate (RSA 2048, self-signed, with the server's application
URI and host names) is made on first use in `<pki>/own/` and reused, so a client trusts it
once. Client certificates are accepted without a trust list (the simulator is a test bench).
With `--opcua-user name:password` (repeatable) only those users may log in and anonymous
sessions are refused (BadIdentityTokenRejected); a wrong password gets BadUserAccessDenied.
"""

from __future__ import annotations

import argparse
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer
from asyncua.server.internal_session import InternalSession
from asyncua.server.user_managers import UserManager

from gateway.collectors.opcua import pki

LEVELS: dict[str, tuple[ua.SecurityPolicyType, ...]] = {
    "none": (ua.SecurityPolicyType.NoSecurity,),
    "sign": (ua.SecurityPolicyType.Basic256Sha256_Sign,),
    "encrypt": (ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,),
    "all": (
        ua.SecurityPolicyType.Basic256Sha256_Sign,
        ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
        ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
        ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
        ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign,
        ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
    ),
}
DEFAULT_PKI = Path("simulator-pki")


@dataclass(frozen=True)
class PlcSecurity:
    """What the PLC offers. The default is the unsecured, anyone-may-log-in server."""

    levels: tuple[str, ...] = ("none",)
    pki_dir: Path = DEFAULT_PKI
    users: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        unknown = [level for level in self.levels if level not in LEVELS]
        if unknown or not self.levels:
            raise ValueError(
                f"OPC UA security level {', '.join(unknown) or '(empty)'} is not one of "
                f"{', '.join(LEVELS)}"
            )

    @property
    def policies(self) -> list[ua.SecurityPolicyType]:
        chosen = [p for level in self.levels for p in LEVELS[level]]
        return list(dict.fromkeys(chosen))

    @property
    def secured(self) -> bool:
        return self.levels != ("none",)


def parse_levels(text: str) -> tuple[str, ...]:
    """`sign,encrypt` -> ('sign', 'encrypt'); ArgumentTypeError on an unknown level."""
    levels = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    try:
        PlcSecurity(levels)  # validates
    except ValueError as exc:  # argparse shows only this kind's message
        raise argparse.ArgumentTypeError(str(exc)) from None
    return levels


def parse_user(text: str) -> tuple[str, str]:
    """`name:password` -> (name, password); the password may contain ':'. The error message
    does not repeat the text (it may hold a password)."""
    name, sep, password = text.partition(":")
    if not sep or not name:
        raise argparse.ArgumentTypeError("--opcua-user wants NAME:PASSWORD")
    return name, password


class _Users(UserManager):
    """asyncua user manager: only the listed users, with their passwords."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self._users = dict(users)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> User | None:
        expected = self._users.get(username or "")
        if expected is None or not hmac.compare_digest(expected, password or ""):
            return None
        return User(role=UserRole.User, name=username)


_ANONYMOUS = User(role=UserRole.Anonymous)


class _SecuredSession(InternalSession):
    """A session that may only be activated over a signed channel (with a client
    certificate). asyncua itself lets a client open a None channel (needed for GetEndpoints)
    and then a session on it even when no None endpoint is offered; real servers refuse."""

    def activate_session(
        self, params: ua.ActivateSessionParameters, peer_certificate: bytes | None
    ) -> ua.ActivateSessionResult:
        if not peer_certificate:  # b"" on a None channel
            raise ServiceError(ua.StatusCodes.BadSecurityPolicyRejected)
        return super().activate_session(params, peer_certificate)


class _SecuredOnlyServer(InternalServer):
    def create_session(
        self, name: str, user: User = _ANONYMOUS, external: bool = False
    ) -> InternalSession:
        if not external:
            return super().create_session(name, user, external)
        return _SecuredSession(self, self.aspace, self.subscription_service, name, user, external)


def internal_server(security: PlcSecurity) -> InternalServer:
    """The asyncua internal server to build a `Server` on: without the `none` level, one that
    refuses sessions over an unsecured channel (BadSecurityPolicyRejected)."""
    return InternalServer() if "none" in security.levels else _SecuredOnlyServer()


def server_certificate(security: PlcSecurity, application_uri: str, host: str) -> tuple[Path, Path]:
    """(certificate, key) of the server in `<pki>/own/`, made when missing or for another URI."""
    own = security.pki_dir / "own"
    cert, key = own / "server_cert.der", own / "server_key.pem"
    if not pki.own_certificate_usable(cert, key, application_uri):
        hosts = tuple(dict.fromkeys((host, "127.0.0.1", "localhost")))
        pki.make_self_signed(
            cert, key, application_uri, "plc-gateway simulated PLC", server=True, hostnames=hosts
        )
    return cert, key


async def apply(server: Server, security: PlcSecurity, application_uri: str, host: str) -> None:
    """Set the endpoints, certificate and identities of a built, not yet started server."""
    server.set_security_policy(security.policies)
    if any(p != ua.SecurityPolicyType.NoSecurity for p in security.policies):
        cert, key = server_certificate(security, application_uri, host)
        await server.load_certificate(str(cert))
        await server.load_private_key(str(key))
    if security.users:
        server.iserver.set_user_manager(_Users(security.users))
        server.set_identity_tokens([ua.UserNameIdentityToken])
    else:
        server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])


def add_arguments(parser: Any) -> None:
    """The `--opcua-security`, `--opcua-pki` and `--opcua-user` options of the simulator CLI."""
    parser.add_argument(
        "--opcua-security",
        type=parse_levels,
        default=("none",),
        metavar="LEVELS",
        help="endpoints the OPC UA PLC offers: comma-separated none, sign, encrypt, all "
        "(Basic256Sha256 Sign / SignAndEncrypt; all: every policy; default: none)",
    )
    parser.add_argument(
        "--opcua-pki",
        type=Path,
        default=DEFAULT_PKI,
        metavar="DIR",
        help=f"where the OPC UA server certificate is made and kept (default: ./{DEFAULT_PKI})",
    )
    parser.add_argument(
        "--opcua-user",
        type=parse_user,
        action="append",
        default=[],
        metavar="NAME:PASSWORD",
        help="a user allowed to log in (repeatable); given, anonymous login is refused",
    )


def from_arguments(args: Any) -> PlcSecurity:
    return PlcSecurity(args.opcua_security, args.opcua_pki, dict(args.opcua_user))
