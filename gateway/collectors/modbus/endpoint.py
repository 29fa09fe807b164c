"""Endpoint URLs of devices.

- `modbus+tcp://host:port` (port default 502): Modbus TCP, requests matched by transaction id;
- `modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&stopbits=1&bytesize=8`: RTU frames on a
  serial line (the defaults are those values);
- `modbus+ascii:///dev/ttyUSB0?...`: ASCII frames on a serial line;
- `modbus+rtu-tcp://host:port`: RTU frames over TCP (a serial device server); the serial
  parameters of the line behind it may be given for the silences and the wire-time estimate.

Serial lines and RTU over TCP are *buses*: one request at a time, answers matched by order
only, silences between frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("modbus+tcp", "modbus+rtu", "modbus+ascii", "modbus+rtu-tcp")
SERIAL_SCHEMES = ("modbus+rtu", "modbus+ascii")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A parsed device endpoint: a TCP host and port, or a serial device and its settings."""

    scheme: str
    host: str  # "" for a serial line
    port: int  # 0 for a serial line
    path: str = ""  # the serial device, e.g. /dev/ttyUSB0 ("" for TCP)
    baudrate: int = 19200
    parity: str = "E"  # N, E or O
    stopbits: int = 1
    bytesize: int = 8

    @property
    def is_serial(self) -> bool:
        """A local serial line (RTU or ASCII)."""
        return self.scheme in SERIAL_SCHEMES

    @property
    def is_bus(self) -> bool:
        """One request at a time, answers matched by order: serial lines and RTU over TCP."""
        return self.scheme != "modbus+tcp"

    @property
    def framing(self) -> str:
        """The frames on the wire: "socket" (MBAP), "rtu" or "ascii"."""
        if self.scheme == "modbus+tcp":
            return "socket"
        return "ascii" if self.scheme == "modbus+ascii" else "rtu"

    @property
    def bits_per_char(self) -> int:
        """Bits of one character on the line: start, data, parity, stop."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    def __str__(self) -> str:
        if self.is_serial:
            return f"{self.scheme}://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse_endpoint(url: str) -> Endpoint:
    """Parse an endpoint URL; raise ValueError with a message an engineer can act on."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid endpoint URL ({exc})") from None
    if parts.scheme not in SCHEMES[:1]:  # the bus schemes: parsed in the next change
        expected = ", ".join(f"{s}://host:port" for s in SCHEMES[:1])
        raise ValueError(f"{url!r}: unsupported scheme {parts.scheme!r} (expected {expected})")
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host (expected modbus+tcp://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{url!r}: a Modbus TCP endpoint has no path or query")
    return Endpoint(parts.scheme, parts.hostname, port or 502)
