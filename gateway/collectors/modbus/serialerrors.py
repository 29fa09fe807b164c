"""Why a serial port could not be opened, for logs and BAD reasons (pure but for resolving
the path of a pty)."""

from __future__ import annotations

import errno
import os
import re

_ERRNO = re.compile(r"\[Errno (\d+)\]|^\((\d+),|\((\d+), '")
_BUSY = {errno.EBUSY, errno.EAGAIN}


def describe_serial_error(exc: BaseException | None, path: str, settings: str = "") -> str:
    """Why the serial port `path` could not be opened (with `settings`, such as "19200 8E1"),
    for logs and BAD reasons (pure)."""
    if exc is None:
        return f"cannot open serial port {path} (timed out)"
    code = getattr(exc, "errno", None)
    if code is None and (found := _ERRNO.search(str(exc))):
        code = int(next(g for g in found.groups() if g))
    if code == errno.ENOENT:
        return f"serial port {path} does not exist"
    if code in (errno.EACCES, errno.EPERM):
        return (
            f"permission denied opening serial port {path} (the gateway's user needs to be "
            "in the group owning it, usually dialout)"
        )
    if code in _BUSY:
        return f"serial port {path} is busy (locked or opened by another program)"
    if code == errno.EISDIR:
        return f"{path} is a directory, not a serial port"
    if code == errno.ENOTTY:
        return f"{path} is not a serial port (not a tty)"
    if code == errno.EINVAL:
        refused = f"serial port {path} refused the line settings {settings}".rstrip()
        if os.path.realpath(path).startswith("/dev/pts/"):
            return f"{refused} (a pty takes no parity: use parity=N)"
        return refused
    if code in (errno.ENXIO, errno.ENODEV):
        return f"serial port {path} has no device behind it (adapter unplugged?)"
    return f"cannot open serial port {path}: {exc}"
