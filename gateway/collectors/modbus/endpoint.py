"""Endpoint URLs of devices.

- `modbus+tcp://host:port` (port default 502): Modbus TCP, requests matched by transaction id;
- `modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E&stopbits=1&bytesize=8`: RTU frames on a
  serial line (the defaults are those values);
- `modbus+ascii:///dev/ttyUSB0?...`: ASCII frames on a serial line;
- `modbus+rtu-tcp://host:port`: RTU frames over TCP (a serial device server); the serial
  parameters of the line behind it may be given for the silences and the wire-time estimate.

Serial lines and RTU over TCP are *buses*: one request at a time, answers matched by order
only, silences between frames. A serial path is absolute, percent-decoded and written one way
(no `//`, trailing `/` or `.`); `line_key` resolves the symlinks of one that exists, so every
name of one port is one line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

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
    #: False when the URL has no query: on a line whose other devices give one, the line's
    #: settings are theirs (not part of the endpoint's identity)
    settings_given: bool = field(default=True, compare=False)

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


#: the query parameters of a serial line (also accepted by RTU over TCP: the line behind it)
LINE_PARAMETERS = ("baudrate", "parity", "stopbits", "bytesize")
USUAL_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
#: the rates Linux serial ports take (termios B50 .. B4000000); others are typos
RATE_RANGE = (50, 4_000_000)
#: COM1, com12: what a Windows user writes for a serial port
WINDOWS_PORT = re.compile(r"/?(com\d+)", re.IGNORECASE)
FORMS = {
    "modbus+tcp": "modbus+tcp://host:port",
    "modbus+rtu": "modbus+rtu:///dev/ttyUSB0",
    "modbus+ascii": "modbus+ascii:///dev/ttyUSB0",
    "modbus+rtu-tcp": "modbus+rtu-tcp://host:port",
}


def parse_endpoint(url: str) -> Endpoint:
    """Parse an endpoint URL; raise ValueError with a message an engineer can act on."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a valid endpoint URL ({exc})") from None
    if parts.scheme not in SCHEMES:
        *first, last = FORMS.values()
        expected = f"{', '.join(first)} or {last}"
        raise ValueError(f"{url!r}: unsupported scheme {parts.scheme!r} (expected {expected})")
    if parts.fragment:
        raise ValueError(f"{url!r}: an endpoint has no fragment ({'#' + parts.fragment!r})")
    if parts.scheme in SERIAL_SCHEMES:
        return _serial(url, parts.scheme, parts.netloc, unquote(parts.path), parts.query)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host (expected {FORMS[parts.scheme]})")
    if port == 0:  # urlsplit takes it; connecting to it would fail at run time only
        raise ValueError(f"{url!r}: port 0 is not a port (use 1..65535; 502 when left out)")
    if parts.scheme == "modbus+tcp":
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"{url!r}: a Modbus TCP endpoint has no path or query")
        return Endpoint(parts.scheme, parts.hostname, port or 502)
    if parts.path not in ("", "/"):
        raise ValueError(
            f"{url!r}: an RTU-over-TCP endpoint has no path (expected {FORMS[parts.scheme]})"
        )
    line = _line(url, parts.scheme, parts.query)
    given = bool(parts.query)
    return Endpoint(parts.scheme, parts.hostname, port or 502, "", **line, settings_given=given)


def _serial(url: str, scheme: str, netloc: str, path: str, query: str) -> Endpoint:
    example = FORMS[scheme]
    windows = WINDOWS_PORT.fullmatch(netloc or path)
    if windows:
        message = f"{windows[1]} is a Windows port name: the gateway runs on Linux and takes a "
        message += f"device path such as /dev/ttyUSB0 or /dev/serial/by-id/... (e.g. {example})"
        raise ValueError(f"{url!r}: {message}")
    if netloc:
        host = netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        message = f"{url!r} names a host {host!r}: a serial device is written with three "
        message += f"slashes, e.g. {example}"
        if ":" in netloc or host.replace(".", "").isdigit():
            message += " (RTU over TCP is modbus+rtu-tcp://host:port)"
        raise ValueError(message)
    if not path or path == "/":
        raise ValueError(f"{url!r} has no serial device (expected {example})")
    if not path.startswith("/"):
        message = "the serial device must be an absolute path (a relative one would depend on "
        raise ValueError(f"{url!r}: {message}the directory the gateway starts in), e.g. {example}")
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        # decoded from %00..%1F: no device is named so, and open() refuses a NUL
        raise ValueError(f"{url!r}: the serial device path has a control character ({path!r})")
    # one spelling per path: no `//`, trailing `/` or `.`; `..` is kept (through a linked
    # directory it is not the lexical parent: `device_of` resolves it)
    path = "/" + "/".join(part for part in path.split("/") if part not in ("", "."))
    if path == "/":
        raise ValueError(f"{url!r} has no serial device (expected {example})")
    line = _line(url, scheme, query)
    return Endpoint(scheme, "", 0, path, **line, settings_given=bool(query))


def _line(url: str, scheme: str, query: str) -> dict[str, Any]:
    """The serial settings of a query string (defaults for what it leaves out)."""
    given: dict[str, str] = {}
    known = f"known: {', '.join(LINE_PARAMETERS)}"
    for item in query.split("&") if query else ():
        key, _, value = item.partition("=")
        key = unquote(key)
        if key not in LINE_PARAMETERS:
            raise ValueError(f"{url!r}: unknown query parameter {key!r} ({known})")
        if key in given:
            raise ValueError(f"{url!r}: query parameter {key!r} is given twice ({known})")
        if not value:
            raise ValueError(f"{url!r}: query parameter {key!r} has no value")
        given[key] = unquote(value)
    line: dict[str, Any] = {}
    if "baudrate" in given:
        line["baudrate"] = _baudrate(url, given["baudrate"])
    if "parity" in given:
        parity = given["parity"].upper()
        if parity not in ("N", "E", "O"):
            message = f"parity must be N (none), E (even) or O (odd), not {given['parity']!r}"
            raise ValueError(f"{url!r}: {message}")
        line["parity"] = parity
    if "stopbits" in given:
        line["stopbits"] = _choice(url, "stopbits", given["stopbits"], (1, 2))
    if "bytesize" in given:
        line["bytesize"] = _choice(url, "bytesize", given["bytesize"], (7, 8))
        if line["bytesize"] == 7 and scheme != "modbus+ascii":
            # RTU sends binary bytes: a 7-bit line would cut the top bit of every byte
            message = "RTU frames carry 8-bit bytes: bytesize must be 8 (7 data bits is for "
            raise ValueError(f"{url!r}: {message}modbus+ascii)")
    return line


def _baudrate(url: str, text: str) -> int:
    # int() refuses thousands of digits: anything that long is out of range anyway
    if text.isascii() and text.isdigit() and (len(text) > 12 or int(text) > 0):
        low, high = RATE_RANGE
        if len(text) > 12 or not low <= int(text) <= high:
            shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} digits)"
            message = f"baudrate {shown} is not a rate a serial port can take ({low}..{high} "
            raise ValueError(f"{url!r}: {message}bits per second)")
        return int(text)
    usual = ", ".join(map(str, USUAL_RATES))
    message = f"baudrate must be a positive whole number of bits per second, not {text!r}"
    raise ValueError(f"{url!r}: {message} (usual rates: {usual})")


def _choice(url: str, name: str, text: str, allowed: tuple[int, int]) -> int:
    if text.isascii() and text.isdigit() and int(text) in allowed:
        return int(text)
    raise ValueError(f"{url!r}: {name} must be {allowed[0]} or {allowed[1]}, not {text!r}")


def line_key(endpoint: Endpoint) -> tuple[str, ...]:
    """What makes one connection: a serial device (whatever framing or settings the devices
    on it claim: they share the wire), else the scheme, host and port. A device path that
    exists is resolved, so /dev/serial/by-id/... and the /dev/ttyUSB0 it links to are one."""
    if endpoint.is_serial:
        return ("serial", device_of(endpoint.path))
    return (endpoint.scheme, endpoint.host, str(endpoint.port))


def device_of(path: str) -> str:
    """The device a serial path names: its symlinks resolved when it exists (else as
    written, already normalised by `parse_endpoint`)."""
    return os.path.realpath(path) if os.path.exists(path) else path
