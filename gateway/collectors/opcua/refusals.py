"""Why a connection attempt failed, in one line naming the server's answer, for `once`,
`browse` and the collector's log. Never a traceback, never the password."""

from __future__ import annotations

import contextlib

from asyncua import Client, ua

from gateway.collectors.opcua import pki
from gateway.collectors.opcua.security import (
    SecurityError,
    SecuritySettings,
    describe,
)

_POLICY_REFUSALS = {
    "BadSecurityPolicyRejected",
    "BadSecurityModeRejected",
    "BadSecurityModeInsufficient",
}
_CERT_REFUSALS = {
    "BadCertificateUntrusted",
    "BadCertificateInvalid",
    "BadCertificateTimeInvalid",
    "BadCertificateUriInvalid",
    "BadCertificateUseNotAllowed",
    "BadCertificateRevoked",
    "BadCertificateIssuerRevoked",
    "BadCertificateRevocationUnknown",
    "BadSecurityChecksFailed",
    "BadNonceInvalid",
}


def status_name(exc: BaseException) -> str | None:
    """The StatusCode name of an asyncua status error (BadUserAccessDenied...), else None."""
    if isinstance(exc, ua.UaStatusCodeError) and not isinstance(exc, ua.UaStatusCodeErrors):
        return ua.StatusCode(exc.code).name
    return None


async def offered(url: str, timeout: float = 5.0) -> list[str]:
    """`Policy/Mode` of every endpoint the server at `url` offers (GetEndpoints, unsecured)."""
    client = Client(url, timeout=timeout)
    return describe(await client.connect_and_get_server_endpoints())


async def explain(
    exc: BaseException,
    *,
    url: str | None = None,
    settings: SecuritySettings | None = None,
    timeout: float = 5.0,
) -> str:
    """A one-line message for an error of `security.configure()` or `Client.connect()`.
    With `url`, a refused policy/mode is followed by what the server offers (asked anew)."""
    text = _explain(exc, url, settings)
    name = status_name(exc)
    if name in _POLICY_REFUSALS and url is not None:
        with contextlib.suppress(OSError, TimeoutError, ua.UaError):  # the refusal suffices
            text += f"; it offers: {', '.join(await offered(url, timeout))}"
    return text


def _explain(exc: BaseException, url: str | None, settings: SecuritySettings | None) -> str:
    where = url or "the server"
    said = _scrub(str(exc), settings)  # only what others wrote: our own words are no secret
    if isinstance(exc, SecurityError | pki.CertificateError):
        return said
    name = status_name(exc)
    if name is not None:
        return _refusal(name, where, settings)
    if isinstance(exc, TimeoutError):
        return f"no answer from {where} in time (timeout)"
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot connect to {where}: connection refused (is the server running?)"
    if isinstance(exc, OSError):
        return f"cannot connect to {where}: {_scrub(exc.strerror or '', settings) or said}"
    if isinstance(exc, ua.UaError):
        return f"OPC UA error talking to {where}: {said}"
    return f"{type(exc).__name__} talking to {where}: {said}"


def _refusal(name: str, where: str, settings: SecuritySettings | None) -> str:
    who = "anonymous login"
    if settings is not None and settings.username:
        who = f"user {settings.username!r}"
    elif settings is not None and settings.user_certificate is not None:
        who = f"X.509 identity {settings.user_certificate}"
    how = f"{settings.policy}/{settings.mode}" if settings else "this security policy"
    if name == "BadUserAccessDenied":
        why = "unknown certificate" if who.startswith("X.509") else "wrong user name or password"
        return f"{where} refused {who} ({name}): {why}, or not allowed"
    if name in ("BadIdentityTokenRejected", "BadIdentityTokenInvalid"):
        hint = "; set username and password" if who == "anonymous login" else ""
        return f"{where} refused {who} ({name}){hint}"
    if name in _POLICY_REFUSALS:
        return f"{where} refused {how} ({name})"
    if name in _CERT_REFUSALS:
        cert = "the client certificate"
        if settings is not None:
            cert = str(settings.certificate or settings.own_folder / "client_cert.der")
        return (
            f"{where} does not accept {cert} ({name}); add it to the server's trusted certificates"
        )
    code = getattr(ua.StatusCodes, name, None)
    doc = ua.StatusCode(code).doc if code is not None else ""
    return f"{where} answered {name}" + (f": {doc}" if doc else "")


def _scrub(text: str, settings: SecuritySettings | None) -> str:
    """Belt and braces: a server echoing the password must not put it in our logs."""
    if settings is not None and settings.password is not None and settings.password.reveal():
        text = text.replace(settings.password.reveal(), "**********")
    return text
