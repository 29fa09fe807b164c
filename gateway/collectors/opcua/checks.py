"""Checks of OPC UA devices beyond validation: the shared ones, node ids and browse paths that
do not parse, and security settings that cannot work."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.collectors.opcua.compile import address_of, read_password
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.config.checks import Found, check_common


def check_device(device: OpcuaDevice, positions: Sequence[int] | None = None) -> Found:
    """Every problem of `device` that validation alone does not find."""
    pos = list(range(len(device.tags))) if positions is None else positions
    found = check_common(device, positions)
    for index, tag in enumerate(device.tags):
        try:
            address_of(tag)
        except ValueError as error:
            key = "node" if tag.node is not None else "browse_path"
            found.append((("tags", pos[index], key), str(error)))
    if device.password_file:
        try:
            read_password(device.password_file)
        except OSError as error:
            found.append((("password_file",), f"cannot read the password: {error.strerror}"))
    for field in ("certificate", "private_key", "user_certificate", "user_private_key"):
        value = getattr(device, field)
        if value and not Path(value).is_file():
            found.append(((field,), f"{value} does not exist"))
    return found
