"""`gateway once` for commissioning: `--raw` (what each value was decoded from), the hint to
`gateway probe` for an implausible value, and what it logs about a dead device."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

from gateway.cli import main


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_once_does_not_claim_to_retry_a_dead_device(tmp_path: Path, caplog, capsys) -> None:
    port = closed_port()
    path = tmp_path / "dead.yaml"
    path.write_text(
        "devices:\n"
        "  - name: flowmeter\n"
        f"    endpoint: modbus+tcp://127.0.0.1:{port}\n"
        "    tags:\n"
        "      - {name: flow, space: holding_register, address: 100, type: float32}\n"
    )
    with caplog.at_level(logging.INFO):
        assert main(["once", str(path)]) == 1
    down = [r.getMessage() for r in caplog.records if " down: " in r.getMessage()]
    assert down == [
        f"Modbus modbus+tcp://127.0.0.1:{port} down: connection refused by "
        f"127.0.0.1:{port} (nothing listens on that port)."
    ]
    assert "retrying" not in caplog.text
    assert f"BAD modbus+tcp://127.0.0.1:{port}: not connected: " in capsys.readouterr().err
