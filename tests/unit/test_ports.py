"""simulators.ports.free_port: free now, and outside the range other port-0 binds draw from."""

from __future__ import annotations

import socket

from simulators import ports


def test_a_free_port_is_below_the_ephemeral_range_and_can_be_bound():
    start = ports.ephemeral_start()
    for _ in range(20):
        port = ports.free_port("127.0.0.1")
        assert ports.LOWEST <= port < start
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # free indeed


def test_a_port_someone_listens_on_is_never_given(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        picks = iter([busy, busy, busy])
        monkeypatch.setattr(ports.random, "randrange", lambda a, b: next(picks, busy))
        monkeypatch.setattr(ports, "TRIES", 3)
        monkeypatch.setattr(ports, "ephemeral_start", lambda: busy + 1)
        assert ports.free_port("127.0.0.1") != busy  # fell back to a port the kernel chose


def test_the_ephemeral_range_is_read_from_the_kernel(tmp_path):
    proc = tmp_path / "ip_local_port_range"
    proc.write_text("40000\t60999\n")
    assert ports.ephemeral_start(proc) == 40000
    assert ports.ephemeral_start(tmp_path / "missing") == 32768
    proc.write_text("garbage")
    assert ports.ephemeral_start(proc) == 32768
