"""`gateway plan` and `gateway check` on buses: the line, each scan's wire time, the line's
load and the warning when its scans cannot keep their rates (times computed by hand)."""

from __future__ import annotations

from pathlib import Path

from gateway.cli import main

VOLTAGE = "      - {name: voltage, space: input_register, address: 0, type: float32}\n"
HISTORY = "      - {name: hist, space: holding_register, address: 0, length: 125, type: string}\n"


def write(tmp_path: Path, endpoint: str, fast_rate: str) -> Path:
    path = tmp_path / "bus.yaml"
    path.write_text(
        "devices:\n"
        "  - name: cell01\n"
        f"    endpoint: {endpoint}\n"
        "    unit_id: 1\n"
        "    tags:\n" + VOLTAGE + "  - name: cell02\n"
        f"    endpoint: {endpoint}\n"
        "    unit_id: 2\n"
        "    pause: 10ms\n"
        f"    scan_rate: {fast_rate}\n"
        "    tags:\n" + HISTORY,
        encoding="utf-8",
    )
    return path


def test_plan_of_a_serial_line_shows_wire_times_and_load(tmp_path, capsys):
    # 19200 8E1: 11 bits per character, 0.573 ms; silence 3.5 characters = 2.005 ms.
    # cell01: fc4 of 2 registers, 8 + 9 bytes = 9.740 ms + 2 silences + 5 ms turnaround
    #   = 18.75 ms;
    # cell02: fc3 of 125 registers, 8 + 255 bytes = 150.677 ms + 4.010 + 5 + 10 ms pause
    #   = 169.69 ms, every 1 s; load 0.01875 + 0.16969 = 0.188
    path = write(tmp_path, "modbus+rtu:///dev/ttyUSB0", "1s")
    assert main(["plan", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "connection modbus+rtu:///dev/ttyUSB0 (timeout 1s, retries 1)",
        "  serial line 19200 baud 8E1, RTU frames: 11 bits per character (0.573 ms), "
        "2.005 ms silence between frames",
        "  device cell01 unit 1: timeout 1s, retries 1: a try takes at most 1009.7 ms (the "
        "timeout plus its longest exchange's 9.7 ms of frames on the wire)",
        "  device cell01 unit 1 every 1s: 1 requests, 2 registers/bits, 1 tags, "
        "18.8 ms on the wire",
        "    fc4 input_register unit 1 start 0 count 2: voltage",
        "  device cell02 unit 2: timeout 1s, retries 1: a try takes at most 1150.7 ms (the "
        "timeout plus its longest exchange's 150.7 ms of frames on the wire)",
        "  device cell02 unit 2 every 1s: 1 requests, 125 registers/bits, 1 tags, "
        "169.7 ms on the wire",
        "    fc3 holding_register unit 2 start 0 count 125: hist",
        "  line load 0.19 s per s (19%)",
    ]


def test_plan_warns_when_the_scans_do_not_fit_the_line(tmp_path, capsys):
    # cell02 every 100 ms: 1.697 s per s, plus cell01 0.019: 1.72 s per s
    path = write(tmp_path, "modbus+rtu:///dev/ttyUSB0", "100ms")
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-3:] == [
        "  line load 1.72 s per s (172%)",
        "  warning: the scans on modbus+rtu:///dev/ttyUSB0 need 1.72 s of wire time per second "
        "(172%): they cannot keep their rates (most of it: cell02 every 0.1s: 1.70 s per s "
        "(170%), cell01 every 1s: 0.02 s per s (2%)); scan less often, read fewer registers, "
        "move devices to another line or raise the baud rate",
        "  warning: one exchange of device 'cell02' every 0.1s (fc3 holding_register start 0 "
        "count 125) keeps the line busy 169.7 ms, longer than its scan interval: the scan can "
        "never keep its rate; scan it less often, read fewer registers per request "
        "(max_registers) or raise the baud rate",
    ]


def test_check_is_quiet_about_a_line_that_fits(tmp_path, capsys):
    path = write(tmp_path, "modbus+rtu-tcp://moxa:4001?baudrate=9600", "1s")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 2 devices, 2 tags in 1 files"


def test_check_warns_when_the_line_is_overloaded(tmp_path, capsys):
    # 9600 8E1: 1.146 ms per character, silence 4.010 ms; cell02 every 200 ms: 263 bytes
    # = 301.35 ms + 8.02 + 5 + 10 = 324.4 ms, 1.62 s per s; cell01: 17 bytes = 19.48 + 8.02
    # + 5 = 32.5 ms, 0.03 s per s; together 1.654
    path = write(tmp_path, "modbus+rtu-tcp://moxa:4001?baudrate=9600", "200ms")
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert (
        f"{path}:3 devices[0].endpoint: warning: the scans on modbus+rtu-tcp://moxa:4001 need "
        "1.65 s of wire time per second (165%): they cannot keep their rates (most of it: "
        "cell02 every 0.2s: 1.62 s per s (162%), cell01 every 1s: 0.03 s per s (3%))"
    ) in err


def test_check_warns_when_one_exchange_cannot_fit_its_scan_interval(tmp_path, capsys):
    # 9600 8E1, cell02 every 200 ms: its one exchange is 324.4 ms (above)
    path = write(tmp_path, "modbus+rtu-tcp://moxa:4001?baudrate=9600", "200ms")
    assert main(["check", str(path)]) == 0
    err = capsys.readouterr().err
    assert (
        f"{path}:8 devices[1].endpoint: warning: one exchange of device 'cell02' every 0.2s "
        "(fc3 holding_register start 0 count 125) keeps the line busy 324.4 ms, longer than "
        "its scan interval"
    ) in err


def with_timing(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "slow.yaml"
    body = "".join(f"    {line}\n" for line in lines)
    path.write_text(
        "devices:\n  - name: cell01\n    endpoint: modbus+rtu:///dev/ttyUSB0?baudrate=9600\n"
        f"{body}    tags:\n" + HISTORY,
        encoding="utf-8",
    )
    return path


def test_a_timeout_below_the_devices_turnaround_is_a_warning(tmp_path, capsys):
    path = with_timing(tmp_path, "timeout: 5ms", "turnaround: 8ms")
    assert main(["check", str(path)]) == 0
    warning = (
        "warning: the timeout 5ms of device 'cell01' is shorter than its turnaround 8ms (its "
        "typical time to answer): most answers would come too late; on a bus the timeout is "
        "the time the device may take to answer, its frames' time on the wire not counted"
    )
    assert f"{path}:4 devices[0].timeout: {warning}" in capsys.readouterr().err
    assert main(["plan", str(path)]) == 0
    assert f"  {warning}" in capsys.readouterr().out.splitlines()


def test_a_timeout_shorter_than_the_wire_time_is_fine(tmp_path, capsys):
    # 9600 baud, 125 registers: 314 ms on the wire; the timeout does not count the frames
    path = with_timing(tmp_path, "timeout: 200ms")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 1 devices, 1 tags in 1 files"


def test_plan_of_rtu_over_tcp_describes_the_line_behind_the_server(tmp_path, capsys):
    path = write(tmp_path, "modbus+rtu-tcp://moxa:4001?baudrate=38400&parity=N&stopbits=2", "1s")
    assert main(["plan", str(path)]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    # 38400 8N2: 11 bits, 0.286 ms; above 19200 baud the silence is a fixed 1.75 ms
    assert line == (
        "  line behind the server 38400 baud 8N2, RTU frames: 11 bits per character "
        "(0.286 ms), 1.750 ms silence between frames"
    )


def test_plan_of_an_ascii_line_has_no_silence(tmp_path, capsys):
    path = write(tmp_path, "modbus+ascii:///dev/ttyS1?baudrate=9600&bytesize=7", "1s")
    assert main(["plan", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "  serial line 9600 baud 7E1, ASCII frames: 10 bits per character (1.042 ms)"
    # cell01: (17 + 1 + 2 * 8 + 2 = 19) characters = 36 x 1.042 ms + 5 ms = 42.5 ms
    assert out[3].endswith(", 42.5 ms on the wire")


ROOT = Path(__file__).resolve().parents[2]
LINE = ROOT / "tests" / "cases" / "config" / "bus" / "line.yaml"
MODBUS_README = ROOT / "gateway" / "collectors" / "modbus" / "README.md"


def test_modbus_readme_shows_the_bus_example_and_its_plan_as_is(capsys):
    """gateway/collectors/modbus/README.md shows tests/cases/config/bus/line.yaml and the
    output of `gateway plan` for it."""
    readme = MODBUS_README.read_text(encoding="utf-8")
    assert f"```yaml\n{LINE.read_text(encoding='utf-8')}```\n" in readme
    assert main(["plan", str(LINE)]) == 0
    assert f"```\n{capsys.readouterr().out}```\n" in readme
