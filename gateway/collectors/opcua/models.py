"""The OPC UA part of a tag map: a device is one server session, a tag is one variable node.

Names follow Telegraf's opcua plugin where it has one (`security_policy`, `security_mode`,
`username`, `password`), so an engineer who knows one knows the other.
"""

from __future__ import annotations

import enum
from typing import ClassVar, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from gateway.config.durations import Duration
from gateway.config.models import DeviceFields, Strict, TagFields


class Mode(enum.StrEnum):
    """How values are obtained: the server reports changes, or the gateway reads on a schedule."""

    SUBSCRIBE = "subscribe"
    POLL = "poll"


class Timestamp(enum.StrEnum):
    """Which time a sample is stamped with."""

    SOURCE = "source"  # the device's (SourceTimestamp); the server's when it has none
    SERVER = "server"  # the server's (ServerTimestamp)
    GATEWAY = "gateway"  # when the gateway received it


Policy = Literal["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"]
SecurityMode = Literal["None", "Sign", "SignAndEncrypt"]
POLICIES: tuple[str, ...] = get_args(Policy)
MODES: tuple[str, ...] = get_args(SecurityMode)


class ChangeFilter(Strict):
    """A data-change filter the server applies before it reports a value (a server-side
    deadband: fewer notifications on the wire). Absolute in engineering units, or percent of
    the variable's EURange."""

    absolute: float | None = Field(None, ge=0, description="report changes larger than this")
    percent: float | None = Field(
        None, ge=0, le=100, description="report changes larger than this % of the EURange"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> ChangeFilter:
        if (self.absolute is None) == (self.percent is None):
            raise ValueError("give exactly one of absolute or percent, e.g. {absolute: 0.5}")
        return self


def check_endpoint(url: str) -> str:
    """`opc.tcp://host:port[/path]`; a ValueError an engineer can act on otherwise."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid endpoint URL ({exc})") from None
    if parts.scheme != "opc.tcp":
        raise ValueError(f"{url!r}: an OPC UA endpoint is opc.tcp://host:port[/path]")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host (expected opc.tcp://host:port[/path])")
    return url.strip()


class OpcuaTag(TagFields):
    """One variable of an OPC UA server, named by node id or by browse path."""

    node: str | None = Field(
        None,
        description="node id: nsu=<namespace uri>;s=<id> (preferred: survives namespace "
        "reordering), ns=<index>;s=|i=|g=|b=..., or i=<n>",
    )
    browse_path: str | None = Field(
        None, description="path from the Objects folder, e.g. Plant/Potline1/Rectifier/current"
    )
    mode: Mode | None = Field(None, description="subscribe or poll; default: the device's")
    sampling_interval: Duration | None = Field(
        None, ge=0, description="how often the server samples the value; default: the device's"
    )
    queue_size: int | None = Field(None, ge=1, description="server-side queue of the item")
    filter: ChangeFilter | None = Field(None, description="server-side data-change filter")
    timestamp: Timestamp | None = Field(None, description="source, server or gateway")
    array_length: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="the node holds an array: write its first N elements as fields "
        "<field>_0 .. <field>_<N-1>",
    )

    @model_validator(mode="after")
    def _one_address(self) -> OpcuaTag:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError(
                "give exactly one of node or browse_path, e.g. "
                "node: 'nsu=urn:example;s=Line1.Current'"
            )
        return self


class OpcuaDevice(DeviceFields):
    """One OPC UA server (one session); its tags are subscribed to or polled."""

    protocol: Literal["opcua"] = "opcua"
    path_fields: ClassVar[tuple[str, ...]] = (
        "state_dir",
        "certificate",
        "private_key",
        "trusted_certs",
        "password_file",
        "user_certificate",
        "user_private_key",
    )
    endpoint: str = Field(description="opc.tcp://host:port[/path]")
    security_policy: Policy = Field(
        "None", description="None, Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss"
    )
    security_mode: SecurityMode = Field("None", description="None, Sign or SignAndEncrypt")
    username: str | None = Field(None, min_length=1, description="user name; default anonymous")
    password: SecretStr | None = Field(
        None, description="use ${OPCUA_PASSWORD}; never logged (shown as **********)"
    )
    password_file: str | None = Field(
        None, description="read the password from this file's first line (instead of password)"
    )
    user_certificate: str | None = Field(
        None, description="an X.509 user identity (DER or PEM) instead of a user name"
    )
    user_private_key: str | None = Field(None, description="the user certificate's key (PEM)")
    certificate: str | None = Field(
        None, description="client certificate (DER or PEM); default: created in the state dir"
    )
    private_key: str | None = Field(None, description="the certificate's private key (PEM)")
    trusted_certs: str | None = Field(
        None, description="folder of trusted server certificates; default <state>/pki/trusted"
    )
    mode: Mode = Field(Mode.SUBSCRIBE, description="subscribe or poll, for every tag")
    publishing_interval: Duration | None = Field(
        None, gt=0, description="how often the server sends changes; default: scan_rate"
    )
    sampling_interval: Duration | None = Field(
        None, ge=0, description="how often the server samples; default: the publishing interval"
    )
    queue_size: int = Field(1, ge=1, description="server-side queue of each monitored item")
    timestamp: Timestamp = Field(Timestamp.SOURCE, description="source, server or gateway")
    state_dir: str = Field(
        "data/opcua",
        description="where the client certificate is created and server certificates are "
        "kept (pki/own, pki/trusted, pki/rejected)",
    )
    measurement: str = Field("opcua", min_length=1, description="default measurement")
    tags: list[OpcuaTag] = Field(default_factory=list)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        return check_endpoint(value)

    @model_validator(mode="after")
    def _security(self) -> OpcuaDevice:
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError(
                "security_policy and security_mode go together: both None, or a policy "
                "with Sign or SignAndEncrypt"
            )
        if (self.user_certificate is None) != (self.user_private_key is None):
            raise ValueError("user_certificate and user_private_key go together")
        if self.user_certificate is not None and self.username is not None:
            raise ValueError("username and user_certificate are two identities: choose one")
        if (self.certificate is None) != (self.private_key is None):
            raise ValueError("certificate and private_key go together")
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if (self.password is not None or self.password_file) and self.username is None:
            raise ValueError("a password needs a username")
        return self
