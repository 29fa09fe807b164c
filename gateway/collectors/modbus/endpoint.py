"""Endpoint URLs of devices: `modbus+tcp://host:port` (port defaults to 502)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("modbus+tcp",)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed device endpoint."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    """Parse an endpoint URL; raise ValueError with a message an engineer can act on."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid endpoint URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        expected = ", ".join(f"{s}://host:port" for s in SCHEMES)
        raise ValueError(f"{url!r}: unsupported scheme {parts.scheme!r} (expected {expected})")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host (expected modbus+tcp://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a Modbus TCP endpoint has no path or query")
    return Endpoint(parts.scheme, parts.hostname, port or 502)
