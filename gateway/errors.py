"""One error tree, classified by what the caller does next.

GatewayError
├── ConfigError            fatal at start-up; carries every problem found (file:line path: msg)
└── SinkError              raised by a sink's write(); the forwarder decides
    ├── RetryableSinkError     keep the batch, retry with backoff
    ├── ThrottledSinkError     keep the batch, wait at least retry_after seconds
    └── RejectedSinkError      the data itself was refused: never retry it as is
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One configuration problem, located as precisely as the input allows.

    A warning is valid configuration that probably does not do what was meant: it is reported
    (`gateway check` exits 0) but does not stop the gateway.
    """

    file: str
    line: int | None
    path: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        message = f"warning: {self.message}" if self.severity == "warning" else self.message
        return f"{where} {self.path}: {message}" if self.path else f"{where}: {message}"


class ConfigError(GatewayError):
    """The configuration is invalid; `problems` lists every problem found, `warnings` the
    warnings found on the way."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        self.problems = problems
        self.warnings = warnings or []
        super().__init__("\n".join(str(p) for p in problems))


class SinkError(GatewayError):
    """A sink could not store a batch."""


class RetryableSinkError(SinkError):
    """Transient: the batch is kept and retried with backoff."""


class ThrottledSinkError(RetryableSinkError):
    """The server asked us to slow down; wait at least `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedSinkError(SinkError):
    """The server refused the data itself (400/422): retrying the same lines cannot help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PayloadTooLargeError(SinkError):
    """The batch is too large for the server (413): split it and send the halves."""
