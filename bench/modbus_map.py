"""The tag map of the Modbus benchmark: N devices x M float32 holding registers, spread over
the endpoints of the C servers, written to the database by the default path of `gateway run`.

Device `dNNN` is on endpoint N mod E with unit id N div E + 1 (devices sharing an endpoint
share its connection, as in a plant behind a Modbus TCP gateway); tag `tK` is the float32 at
address 2K. The tags come from one CSV list shared by every device (what a large plant does,
and much faster to load than inline YAML). Measurement `bench`: VictoriaMetrics stores tag
`tK` of device `dNNN` as the series `bench_tK{device="dNNN"}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

MEASUREMENT = "bench"
VALUE_SERIES = f'{{__name__=~"{MEASUREMENT}_t[0-9]+"}}'  # values, not the _quality fields
FIRST_SERIES = f"{MEASUREMENT}_t0"  # in the first request of every scan


@dataclass(frozen=True)
class Scenario:
    devices: int
    tags: int
    interval: float  # s between scans of one device
    endpoints: int
    buffer: str = "sqlite"

    @property
    def offered(self) -> float:
        """Samples per second the schedule asks for."""
        return self.devices * self.tags / self.interval

    @property
    def registers(self) -> int:
        return 2 * self.tags

    def describe(self) -> str:
        return (
            f"{self.devices} devices x {self.tags} float32 every {self.interval:g} s on "
            f"{min(self.endpoints, self.devices)} endpoints, {self.buffer} buffer "
            f"({self.offered:,.0f} samples/s offered)"
        )


def device_name(n: int) -> str:
    return f"d{n:03d}"


def write_tagmap(folder: Path, scenario: Scenario, endpoints: list[str], db_url: str) -> Path:
    """Write `bench.yaml` and its `tags.csv` into `folder`; return the YAML file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["name,space,address,type"]
    rows += [f"t{k},holding_register,{2 * k},float32" for k in range(scenario.tags)]
    (folder / "tags.csv").write_text("\n".join(rows) + "\n")
    devices = [
        {
            "name": device_name(n),
            "endpoint": endpoints[n % len(endpoints)],
            "unit_id": n // len(endpoints) + 1,
            "scan_rate": scenario.interval,
            "timeout": 2,
            "measurement": MEASUREMENT,
            "tags_csv": "tags.csv",
        }
        for n in range(scenario.devices)
    ]
    tagmap = {
        "devices": devices,
        "sinks": {"influxdb": {"url": db_url, "org": "bench", "bucket": "bench", "token": "x"}},
        "buffer": {"type": scenario.buffer, "directory": str(folder / "buffer")},
        "health": {"port": 0},
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(tagmap, sort_keys=False))
    return path
