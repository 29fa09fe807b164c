"""Compile OPC UA devices into their runtime plans: one session per device, every tag resolved
against its device's defaults (mode, intervals, queue, filter, timestamp) and the Points it
lands on. Node ids are parsed here; they are resolved on the server when a session starts
(an `nsu=` id or a browse path is looked up again after every reconnect)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from gateway.collectors.opcua.models import Mode, OpcuaDevice, OpcuaTag, Timestamp
from gateway.collectors.opcua.nodeids import BrowsePath, NodeRef, parse_browse_path, parse_node_id
from gateway.collectors.opcua.security import Secret, SecuritySettings
from gateway.collectors.opcua.subscribe import Deadband
from gateway.collectors.opcua.values import field_names
from gateway.config.tagplan import deadband_threshold, linear, point_of, scan_interval
from gateway.model import TagPlan


@dataclass(frozen=True, slots=True, eq=False)
class OpcuaTagPlan:
    """One tag: where its node is, how it is monitored or polled, and its pipeline plans (one
    per field: a scalar has one, an array one per element)."""

    name: str
    address: NodeRef | BrowsePath
    written: str  # the node id or browse path as the tag map gives it
    mode: Mode
    interval_s: float  # poll rate, or the subscription's publishing interval
    sampling_interval_s: float
    queue_size: int
    filter: Deadband | None
    timestamp: Timestamp
    array_length: int | None
    fields: tuple[TagPlan, ...]


@dataclass(frozen=True, slots=True)
class OpcuaPlan:
    """One OPC UA server session (one device) and everything read through it."""

    device: str
    endpoint: str
    security: SecuritySettings
    timeout_s: float
    demote_after: int
    tags: tuple[OpcuaTagPlan, ...]
    default_namespace_uri: str | None = None  # for browse-path elements without an index

    protocol: ClassVar[str] = "opcua"

    @property
    def name(self) -> str:
        # one session per device: several devices of one server are several connections,
        # and the metrics' `endpoint` label must tell them apart
        return f"{self.endpoint} ({self.device})"

    @property
    def devices(self) -> tuple[str, ...]:
        return (self.device,)

    def tag_plans(self) -> tuple[TagPlan, ...]:
        return tuple(f for tag in self.tags for f in tag.fields)


def security_of(device: OpcuaDevice) -> SecuritySettings:
    """The session's security settings (paths are already relative to the tag-map file)."""
    state = Path(device.state_dir)
    password = device.password.get_secret_value() if device.password else None
    if device.password_file:
        password = read_password(device.password_file)
    return SecuritySettings(
        state_dir=state,
        policy=device.security_policy,
        mode=device.security_mode,
        username=device.username,
        password=Secret(password) if password is not None else None,
        user_certificate=Path(device.user_certificate) if device.user_certificate else None,
        user_private_key=Path(device.user_private_key) if device.user_private_key else None,
        certificate=Path(device.certificate) if device.certificate else None,
        private_key=Path(device.private_key) if device.private_key else None,
        trusted_dir=Path(device.trusted_certs) if device.trusted_certs else None,
    )


def read_password(path: str) -> str:
    """The first line of a password file (OSError when it cannot be read)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return lines[0] if lines else ""


def address_of(tag: OpcuaTag) -> NodeRef | BrowsePath:
    """The tag's node id or browse path, parsed (ValueError with the reason when malformed)."""
    if tag.node is not None:
        return parse_node_id(tag.node)
    assert tag.browse_path is not None  # the model requires one of them
    return parse_browse_path(tag.browse_path)


def compile_tag(tag: OpcuaTag, device: OpcuaDevice) -> OpcuaTagPlan:
    """Resolve one tag against its device's defaults."""
    mode = tag.mode or device.mode
    rate = scan_interval(tag, device)
    interval = rate if mode is Mode.POLL else (device.publishing_interval or rate)
    sampling = tag.sampling_interval
    if sampling is None:
        sampling = device.sampling_interval if device.sampling_interval is not None else interval
    band = tag.filter
    change = None
    if band is not None:
        change = (
            Deadband("absolute", band.absolute)
            if band.absolute is not None
            else Deadband("percent", band.percent or 0.0)
        )
    # A tag whose values turn out not to be numbers gets no scale or deadband: the pipeline
    # stages skip what they cannot apply (checked per value), so planning them is harmless.
    base = point_of(tag, device)
    fields = []
    for name in field_names(base.field, tag.array_length):
        renamed = tag.model_copy(update={"field": name}) if tag.array_length else tag
        fields.append(
            TagPlan(
                point=point_of(renamed, device),
                scale=linear(tag.scale),
                range=tag.range,
                deadband=deadband_threshold(tag, device.deadband, True),
                heartbeat_s=tag.heartbeat or device.heartbeat,
            )
        )
    return OpcuaTagPlan(
        name=tag.name,
        address=address_of(tag),
        written=tag.node or tag.browse_path or "",
        mode=mode,
        interval_s=interval,
        sampling_interval_s=sampling,
        queue_size=tag.queue_size or device.queue_size,
        filter=change,
        timestamp=tag.timestamp or device.timestamp,
        array_length=tag.array_length,
        fields=tuple(fields),
    )


def compile_opcua(devices: Sequence[OpcuaDevice]) -> list[OpcuaPlan]:
    """One plan per enabled device with tags."""
    plans = []
    for device in devices:
        if not device.enabled or not device.tags:
            continue
        plans.append(
            OpcuaPlan(
                device=device.name,
                endpoint=device.endpoint,
                security=security_of(device),
                timeout_s=device.timeout,
                demote_after=device.demote_after,
                tags=tuple(compile_tag(tag, device) for tag in device.tags),
            )
        )
    return plans
