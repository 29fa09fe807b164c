"""`gateway browse opc.tcp://...`: walk a server's address space and print a ready-to-edit tag
map of the variables found (the OPC UA plugin contributes this subcommand to `gateway`).

Exit codes: 0 the map was written; 2 a usage error or the server could not be browsed (one
line on stderr naming the server's answer, never a traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from asyncua import Client, ua

from gateway.collectors.opcua.browse import FoundVariable, browse_variables
from gateway.collectors.opcua.browseargs import DEFAULT_STATE_DIR, PASSWORD_ENV
from gateway.collectors.opcua.datatypes import NodeType, node_types
from gateway.collectors.opcua.limits import read_limits
from gateway.collectors.opcua.models import check_endpoint
from gateway.collectors.opcua.nodeids import NamespaceError, parse_node_id, resolve
from gateway.collectors.opcua.refusals import explain
from gateway.collectors.opcua.render import is_tag, render_tagmap
from gateway.collectors.opcua.security import (
    Secret,
    SecurityError,
    SecuritySettings,
    configure,
    trust_server_certificate,
)

EXIT_OK, EXIT_FAILED = 0, 2


class BrowseFailed(Exception):
    """str() is the one line for the user."""


def policy_and_mode(policy: str | None, mode: str | None) -> tuple[str, str]:
    """Fill in the other half: a policy alone is SignAndEncrypt, a mode alone Basic256Sha256."""
    if policy is None and mode is None:
        return "None", "None"
    if policy is None:
        return ("None" if mode == "None" else "Basic256Sha256"), str(mode)
    if mode is None:
        return policy, ("None" if policy == "None" else "SignAndEncrypt")
    return policy, mode


def password_of(args: argparse.Namespace) -> Secret | None:
    """From --password-file (its first line), else $OPCUA_PASSWORD; None without a username."""
    if not args.username:
        return None
    if args.password_file is not None:
        try:
            text = args.password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise BrowseFailed(
                f"cannot read --password-file {args.password_file}: {exc.strerror}"
            ) from None
        return Secret(text.splitlines()[0] if text else "")
    value = os.environ.get(PASSWORD_ENV)
    if value is None:  # a login without one would be refused as "wrong password"
        raise BrowseFailed(
            f"no password for user {args.username!r}: set {PASSWORD_ENV} or give --password-file"
        )
    return Secret(value)


def settings_of(args: argparse.Namespace) -> SecuritySettings:
    policy, mode = policy_and_mode(args.security_policy, args.security_mode)
    if (policy == "None") != (mode == "None"):
        raise BrowseFailed(
            f"--security-policy {policy} and --security-mode {mode} do not go together"
        )
    return SecuritySettings(
        state_dir=Path(args.state_dir or DEFAULT_STATE_DIR),
        policy=policy,
        mode=mode,
        username=args.username,
        password=password_of(args),
        trusted_dir=Path(args.trusted_certs) if args.trusted_certs else None,
    )


def device_name(endpoint: str) -> str:
    """`plc7` for opc.tcp://plc7.plant:4840, `opcua` when the host is an address."""
    host = urlsplit(endpoint).hostname or ""
    first = host.split(".")[0]
    return first if first[:1].isalpha() and not host.replace(".", "").isdigit() else "opcua"


def schema_path(output: Path | None) -> str:
    """The repository's schema, relative to where the map goes (as is when not found)."""
    from gateway.config.schema import DEFAULT_OUTPUT

    if not DEFAULT_OUTPUT.is_file():
        return DEFAULT_OUTPUT.name
    folder = (output.parent if output is not None else Path()).resolve()
    return os.path.relpath(DEFAULT_OUTPUT, folder)


async def trust(url: str, settings: SecuritySettings, timeout: float) -> str:
    """Store the server's certificate in the trusted folder; the line saying what was done."""
    before = set(settings.trusted_folder.glob("*")) if settings.trusted_folder.is_dir() else set()
    path = await trust_server_certificate(url, settings, timeout)
    if path is None:
        return "--trust-server-cert: nothing to trust with security policy None"
    if path in before:
        return f"the server certificate is already trusted: {path}"
    return f"trusted the server certificate: stored it as {path}"


async def browse(args: argparse.Namespace, settings: SecuritySettings) -> str:
    """The tag map text; BrowseFailed with the one line for the user."""
    url = args.endpoint
    client = Client(url, timeout=args.timeout)
    try:
        if args.trust_server_cert:
            print(await trust(url, settings, args.timeout), file=sys.stderr)
        await configure(client, settings)
        await client.connect()
    except Exception as exc:  # every way a connection fails: one line, never a traceback
        raise BrowseFailed(await explain(exc, url=url, settings=settings)) from None
    try:
        namespaces = await client.get_namespace_array()
        start = start_node(args.node, namespaces)
        found = await browse_variables(client, start, args.depth)
        lengths, not_tags = await node_shapes(client, [v for v in found if is_tag(v)])
    except BrowseFailed:
        raise
    except Exception as exc:
        raise BrowseFailed(await explain(exc, url=url, settings=settings)) from None
    finally:
        with contextlib.suppress(Exception):
            await client.disconnect()
    security: dict[str, str | None] = {
        "security_policy": settings.policy,
        "security_mode": settings.mode,
        "username": settings.username,
        # absolute: a map's paths are relative to the map file, wherever it is saved
        "state_dir": _absolute(args.state_dir),
        "trusted_certs": _absolute(args.trusted_certs),
    }
    return render_tagmap(
        found,
        url,
        namespaces,
        args.device_name or device_name(url),
        security,
        schema=schema_path(args.output),
        array_lengths=lengths,
        not_tags=not_tags,
    )


def start_node(text: str | None, namespaces: list[str]) -> ua.NodeId | None:
    if text is None:
        return None
    try:
        return resolve(parse_node_id(text), namespaces)
    except (ValueError, NamespaceError) as exc:
        raise BrowseFailed(f"--node {text}: {exc}") from None


async def node_shapes(
    client: Client, tags: list[FoundVariable]
) -> tuple[dict[ua.NodeId, int], dict[ua.NodeId, str]]:
    """How the collector will see each variable (the same look-up as at run time): the array
    lengths, and the variables it could not read with the reason."""
    if not tags:
        return {}, {}
    kinds = await node_types(client, [v.node_id for v in tags], await read_limits(client))
    lengths: dict[ua.NodeId, int] = {}
    refused: dict[ua.NodeId, str] = {}
    for var, kind in zip(tags, kinds, strict=True):
        if not isinstance(kind, NodeType):
            refused[var.node_id] = str(kind)
        elif kind.array_length is not None:
            lengths[var.node_id] = kind.array_length
    return lengths, refused


def run(args: argparse.Namespace) -> int:
    try:
        check_endpoint(args.endpoint)
        if args.depth < 1:
            raise BrowseFailed("--depth: expected 1 or more")
        settings = settings_of(args)
        text = asyncio.run(browse(args, settings))
    except (BrowseFailed, SecurityError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.output is None:
        sys.stdout.write(text)
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"error: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAILED
        tags = sum(1 for line in text.splitlines() if line.startswith("      - name: "))
        print(f"wrote {args.output}: {tags} tags", file=sys.stderr)
    return EXIT_OK


def _absolute(path: str | None) -> str | None:
    return str(Path(path).expanduser().resolve()) if path else None
