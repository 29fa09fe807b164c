"""The names of OPC UA security policies and modes as tag maps spell them, and what a
server's GetEndpoints answer offers in those names."""

from __future__ import annotations

from collections.abc import Mapping

from asyncua import ua
from asyncua.crypto import security_policies as sp

POLICIES: dict[str, type[sp.SecurityPolicy]] = {
    "None": sp.SecurityPolicyNone,
    "Basic256Sha256": sp.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": sp.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": sp.SecurityPolicyAes256Sha256RsaPss,
}
MODES: dict[str, ua.MessageSecurityMode] = {
    "None": ua.MessageSecurityMode.None_,
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_MODE_NAMES = {mode: name for name, mode in MODES.items()}
TOKEN_NAMES = {
    ua.UserTokenType.Anonymous: "anonymous",
    ua.UserTokenType.UserName: "user name and password",
    ua.UserTokenType.Certificate: "X.509 certificate",
    ua.UserTokenType.IssuedToken: "issued token",
}


def check_names(policy: str, mode: str) -> list[str]:
    """Problems with a security_policy / security_mode pair (empty when fine)."""
    problems = [
        _unknown("security_policy", policy, POLICIES),
        _unknown("security_mode", mode, MODES),
    ]
    if not any(problems):
        if policy == "None" and mode != "None":
            problems.append(
                f"security_mode {mode} needs a security policy other than None "
                "(the None policy neither signs nor encrypts)"
            )
        elif mode == "None" and policy != "None":
            problems.append(
                f"security_policy {policy} needs security_mode Sign or SignAndEncrypt "
                "(mode None is only for policy None)"
            )
    return [p for p in problems if p]


def _unknown(what: str, name: str, known: Mapping[str, object]) -> str:
    if name in known:
        return ""
    close = [k for k in known if k.lower().replace("_", "") == name.lower().replace("_", "")]
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{what} {name!r} is not one of {', '.join(known)}{hint}"


def describe(endpoints: list[ua.EndpointDescription]) -> list[str]:
    """`Policy/Mode` of each endpoint, e.g. ['None/None', 'Basic256Sha256/Sign'], unique."""
    seen: list[str] = []
    for ep in endpoints:
        text = f"{_policy_name(ep.SecurityPolicyUri)}/{_MODE_NAMES.get(ep.SecurityMode, '?')}"
        if text not in seen:
            seen.append(text)
    return seen


def _policy_name(uri: str) -> str:
    return uri.rpartition("#")[2] or uri


def server_certificate(ep: ua.EndpointDescription) -> bytes:
    """The server's own certificate of an endpoint (the first of a chain), DER."""
    der = ep.ServerCertificate or b""
    if len(der) > 4 and der[1] == 0x82:  # SEQUENCE with a two-byte length: cut off the chain
        return der[: int.from_bytes(der[2:4], "big") + 4]
    return der
