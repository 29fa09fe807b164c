"""Scenario timelines: YAML files of events at simulated times.

```yaml
name: feeder jam
events:
  - {at: 10m, fault: feeder_jam, target: cell03_feeder}     # process fault
  - {at: 40m, clear: feeder_jam, target: cell03_feeder}
  - {at: 1h, command: tap, target: cell03}                  # tap | change_anode | reset_rectifier
  - {at: 2m, write: {device: rectifier, tag: line_current_sp, value: 6.5}}
  - {at: 5m, modbus: {device: cell05, exception: 6}}        # protocol faults of the Modbus PLC
  - {at: 6m, modbus: {device: cell05, exception: null, delay: 0, silent: false}}
  - {at: 7m, modbus: {drop_connections: true}}
  - {at: 8m, modbus: {restart: 5s}}
  - {at: 9m, opcua: {device: cell01_feeder, tag: hopper_weight, status: BadCommunicationError}}
  - {at: 1h, fault: drift, target: cell01.bath_temp, settings: {rate: 2}}  # data-quality fault
  - {at: 2h, fault: spike, target: cell02.cell_voltage, settings: {size: 5, every: 1m, for: 10m}}
  - {at: 3h, clear: drift, target: cell01.bath_temp}
```
Times are durations from the start of the run (`90`, `30s`, `10m`, `1.5h`). A `fault` or
`clear` names a process fault of the plant or a data-quality fault of what the PLCs report
(`simulators/sensorfaults.py`: target DEVICE.TAG, or DEVICE for clock_skew; `settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.config.durations import Duration
from simulators.sensorfaults import KINDS as SENSOR_FAULTS
from simulators.sensorfaults import SensorFaults


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WriteSpec(_Strict):
    device: str
    tag: str
    value: float | int | bool | str


class ModbusFault(_Strict):
    device: str | None = None
    exception: int | None = None
    delay: float = 0.0
    silent: bool = False
    drop_connections: bool = False
    restart: Duration | None = None


class OpcUaFault(_Strict):
    device: str | None = None
    tag: str | None = None
    status: str | None = None
    drop_sessions: bool = False
    restart: Duration | None = None


class Event(_Strict):
    at: Duration = Field(ge=0)
    fault: str | None = None
    clear: str | None = None
    target: str | None = None
    settings: dict[str, float | int | str] | None = None  # of a data-quality fault
    command: Literal["tap", "change_anode", "reset_rectifier"] | None = None
    write: WriteSpec | None = None
    modbus: ModbusFault | None = None
    opcua: OpcUaFault | None = None


class Scenario(_Strict):
    name: str = ""
    description: str = ""
    events: list[Event] = Field(default_factory=list)

    def sorted_events(self) -> list[Event]:
        """Events by time (stable for equal times)."""
        return sorted(self.events, key=lambda e: e.at)


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; ValueError naming the file and the problem."""
    try:
        data: Any = yaml.safe_load(Path(path).read_text())
        return Scenario.model_validate(data or {})
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"{path}: {problems}") from None


def check_scenario(scenario: Scenario, plant: Any, name: object = "scenario") -> None:
    """Check every event against the plant before the run starts (not hours into it);
    ValueError listing every problem."""
    devices = set(plant.device_names())
    sensors = SensorFaults({d: plant.kind(d) for d in devices})
    known = ", ".join([*plant.FAULTS, *SENSOR_FAULTS])
    problems = []
    for index, event in enumerate(scenario.events):
        where = f"{name}: events[{index}] (at {event.at:g}s)"
        sensor = False
        for kind, clear in ((event.fault, False), (event.clear, True)):
            if kind in SENSOR_FAULTS:
                sensor = True
                try:
                    if clear:  # (validates the kind and the target only)
                        sensors.clear(kind, event.target)
                    else:
                        sensors.check(kind, event.target, event.settings or {})
                except ValueError as exc:
                    problems.append(f"{where}: {exc}")
            elif kind is not None and kind not in plant.FAULTS:
                problems.append(f"{where}: unknown fault {kind!r} (known: {known})")
        if event.settings and not (sensor and event.fault):
            problems.append(f"{where}: settings belong to a data-quality fault event")
        named = [
            None if sensor else event.target,
            event.write and event.write.device,
            event.modbus and event.modbus.device,
            event.opcua and event.opcua.device,
        ]
        problems += [
            f"{where}: no device {d!r} in this plant" for d in named if d and d not in devices
        ]
    if problems:
        raise ValueError("\n".join(problems))


def with_events(scenario: Scenario | None, texts: list[str]) -> Scenario:
    """`scenario` plus events given as YAML flow mappings (the --event option)."""
    events = list(scenario.events) if scenario else []
    for text in texts:
        try:
            events.append(Event.model_validate(yaml.safe_load(text)))
        except (yaml.YAMLError, ValidationError) as exc:
            raise ValueError(f"--event {text!r}: {exc}") from None
    base = scenario or Scenario()
    return base.model_copy(update={"events": events})
