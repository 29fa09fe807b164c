"""The benchmark's Modbus TCP servers: `modbus_server.c` built with gcc against libmodbus, one
process per endpoint, so the servers cost the gateway's machine little CPU and none of the
gateway's own process.

The binary is cached under the virtual environment (`<sys.prefix>/bench-cache/`), named by a
hash of the source, so a changed source is rebuilt and an unchanged one is not.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from simulators.ports import free_port

SOURCE = Path(__file__).with_name("modbus_server.c")
HEADER = Path("/usr/include/modbus/modbus.h")
MISSING = (
    "the benchmark's Modbus server needs gcc and libmodbus: run `make bench` or `make test` "
    "(they install Debian's libmodbus-dev), or `apt-get install gcc libmodbus-dev`"
)


def cache_dir() -> Path:
    return Path(sys.prefix) / "bench-cache"


def _flags() -> list[str]:
    """Compiler and linker flags of libmodbus: pkg-config's when available."""
    try:
        out = subprocess.run(
            ["pkg-config", "--cflags", "--libs", "libmodbus"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()
    except (OSError, subprocess.CalledProcessError):
        return [f"-I{HEADER.parent}", "-lmodbus"]


def build() -> Path:
    """The server binary, compiled if the source changed since the last build."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    binary = cache_dir() / f"modbus_server-{digest}"
    if binary.exists():
        return binary
    gcc = shutil.which("gcc")
    if gcc is None or not HEADER.exists():
        raise RuntimeError(MISSING)
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".tmp")
    result = subprocess.run(
        [gcc, "-O2", "-Wall", "-o", str(partial), str(SOURCE), *_flags()],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"building {SOURCE.name} failed ({MISSING}):\n{result.stderr}")
    partial.rename(binary)  # atomic: a concurrent run never starts a half-written binary
    return binary


class ServerSet:
    """`count` server processes on free ports of 127.0.0.1, each with `registers` registers."""

    def __init__(self, count: int, registers: int) -> None:
        self.count = count
        self.registers = registers
        self.procs: list[subprocess.Popen[str]] = []
        self.ports: list[int] = []

    def start(self) -> None:
        binary = build()
        for _ in range(self.count):
            for _attempt in range(5):  # a free port may be taken before the server binds it
                port = free_port()
                proc = subprocess.Popen(
                    [str(binary), str(port), str(self.registers)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                assert proc.stdout is not None
                if proc.stdout.readline().strip() == "ready":
                    self.procs.append(proc)
                    self.ports.append(port)
                    break
                proc.wait()
            else:
                self.stop()
                err = proc.stderr.read() if proc.stderr else ""
                raise RuntimeError(f"modbus_server did not start: {err}")

    @property
    def endpoints(self) -> list[str]:
        return [f"modbus+tcp://127.0.0.1:{port}" for port in self.ports]

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(5)
        self.procs.clear()

    def __enter__(self) -> ServerSet:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
