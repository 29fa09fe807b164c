"""Tag-map models: what plant engineers write in `mappings/*.yaml`.

Every model forbids unknown keys and is frozen. Field descriptions are the reference
documentation: `mappings/tagmap.schema.json` is generated from them. Checks that involve
several fields (a type that needs a register count, a bit index, a scan group name) live in
`checks.py`, so each problem can point at the exact field.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    WithJsonSchema,
    field_validator,
)

from gateway.config.durations import Duration


def _label_values(value: object) -> object:
    """InfluxDB tag values are text: accept `cell: 7` and `enabled: true` as "7" / "true"."""
    if not isinstance(value, dict):
        return value
    return {
        k: (str(v).lower() if isinstance(v, bool) else str(v))
        if isinstance(v, bool | int | float)
        else v
        for k, v in value.items()
    }


#: InfluxDB tags: names to text values (numbers and booleans are turned into text)
Labels = Annotated[dict[str, str], BeforeValidator(_label_values)]

#: letters of any script (tag names in Chinese plants), digits, _ . -; not starting with a digit
NAME_PATTERN = r"^[\p{L}_][\p{L}\p{M}\p{N}_.\-]*$"

#: one file name or a list of them (a single string is accepted and wrapped in a list)
_OneOrManyFiles = Annotated[
    list[str],
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}),
]


class Strict(BaseModel):
    """Base: unknown keys are errors, loaded config is never mutated."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Scaling(Strict):
    """Raw value to engineering value: `factor`/`offset`, or `raw` range to `eng` range."""

    factor: float = Field(1.0, description="engineering = raw * factor + offset")
    offset: float = Field(0.0, description="added after the factor")
    raw: tuple[float, float] | None = Field(
        None, description="raw range [low, high], mapped linearly onto `eng`"
    )
    eng: tuple[float, float] | None = Field(
        None, description="engineering range [low, high] that `raw` maps onto"
    )


class Deadband(Strict):
    """Suppress writes of values that moved less than this since the last written value."""

    absolute: float | None = Field(None, ge=0, description="in engineering units")
    percent: float | None = Field(
        None,
        ge=0,
        le=100,
        description="percent of the tag's engineering span (`range`, or `scale.eng`)",
    )


class TagFields(Strict):
    """What every tag has, whatever its protocol: its name, how its value is scaled, checked
    and filtered, and where it lands in InfluxDB. The pipeline uses only these."""

    name: str = Field(pattern=NAME_PATTERN, description="unique within the device")
    scale: Scaling | None = Field(None, description="linear scaling to engineering units")
    unit: str = Field("", description="engineering unit, e.g. V, kA, degC")
    range: tuple[float, float] | None = Field(
        None,
        description="valid engineering range [low, high]; outside it the sample is "
        "UNCERTAIN (out of range)",
    )
    scan: str | float | None = Field(
        None,
        description="scan rate: a duration ('500ms', 2) or the name of a scan group; "
        "default: the device's scan_rate",
    )
    deadband: Deadband | None = Field(None, description="overrides the device's deadband")
    heartbeat: Duration | None = Field(
        None, gt=0, description="write at least this often even inside the deadband"
    )
    measurement: str | None = Field(None, min_length=1, description="default: the device's")
    field: str | None = Field(None, min_length=1, description="InfluxDB field; default: name")
    tags: Labels = Field(default_factory=dict, description="extra InfluxDB tags")
    description: str = ""

    @property
    def span(self) -> tuple[float, float] | None:
        """The engineering span a percent deadband refers to: `range`, else `scale.eng`."""
        if self.range is not None:
            return self.range
        if self.scale is not None and self.scale.eng is not None:
            return (min(self.scale.eng), max(self.scale.eng))
        return None


class DeviceFields(Strict):
    """What every device has, whatever its protocol: its name, schedule, timeouts, demotion,
    InfluxDB defaults and CSV tag lists. A protocol's device narrows `protocol` to its name,
    `tags` to its tag model and sets its default `measurement`, and adds its own fields."""

    protocol: str = Field("modbus", description="which collector reads the device")
    measurement: str = Field(min_length=1, description="default measurement")
    tags: Sequence[TagFields] = Field(default_factory=list)
    #: fields that hold a file or folder path: the loader makes those written relative to
    #: the tag-map file (`written.device_paths_relative_to`), as it does `tags_csv`
    path_fields: ClassVar[tuple[str, ...]] = ()

    name: str = Field(pattern=NAME_PATTERN, description="unique across all tag maps")
    timeout: Duration = Field(1.0, gt=0, description="per request")
    retries: int = Field(1, ge=0, le=10, description="retries of a failed request per scan")
    demote_after: int = Field(
        3, ge=0, description="failed scans in a row before the device is demoted (0: never)"
    )
    demote_max: Duration = Field(
        60.0, gt=0, description="longest demotion; it starts at 1 s and doubles"
    )
    scan_rate: Duration = Field(1.0, gt=0, description="default scan rate of the tags")
    scan_groups: dict[str, Duration] = Field(
        default_factory=dict, description="named scan rates tags can refer to with `scan`"
    )
    metadata: Labels = Field(
        default_factory=dict, description="InfluxDB tags on every value (site, line, cell, ...)"
    )
    deadband: Deadband | None = Field(None, description="default deadband of numeric tags")
    heartbeat: Duration | None = Field(None, gt=0, description="default heartbeat")
    tags_csv: _OneOrManyFiles = Field(
        default_factory=list,
        description="CSV files (relative to this file) with more tags, one per row",
    )
    enabled: bool = Field(True, description="false: validated but not polled")
    description: str = ""

    @field_validator("tags_csv", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("scan_groups")
    @classmethod
    def _group_names(cls, value: dict[str, float]) -> dict[str, float]:
        for name, rate in value.items():
            if rate <= 0:
                raise ValueError(f"scan group {name!r}: the rate must be greater than zero")
        return value


class InfluxDBSinkConfig(Strict):
    """InfluxDB v2 write API. Missing values come from INFLUXDB_V2_URL / _TOKEN / _ORG / _BUCKET."""

    url: str | None = None
    token: SecretStr | None = Field(
        None, description="use ${INFLUXDB_V2_TOKEN}; never logged (shown as **********)"
    )
    token_file: str | None = Field(
        None, description="read the token from this file (relative to this tag-map file)"
    )
    org: str | None = None
    bucket: str | None = None
    gzip: bool = True
    timeout: Duration = Field(10.0, gt=0)


class FileSinkConfig(Strict):
    """Line-protocol files, rotated by size."""

    directory: str = Field(
        "data",
        description="relative to this tag-map file; default: ./data of the working directory",
    )
    prefix: str = "gateway"
    max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    keep: int = Field(10, ge=1)


class SinksConfig(Strict):
    """Where samples go. Without this section: InfluxDB when INFLUXDB_V2_URL is set, else files
    under ./data."""

    precision: Literal["ns", "us", "ms", "s"] = Field("ms", description="timestamp precision")
    batch_size: int = Field(5000, ge=1, le=100_000, description="lines per write")
    flush_interval: Duration = Field(0.5, gt=0, description="longest wait before a write")
    influxdb: InfluxDBSinkConfig | None = None
    file: FileSinkConfig | None = None
    stdout: bool = False


class BufferConfig(Strict):
    """Store-and-forward buffer between the pipeline and each sink (one store per sink)."""

    type: Literal["sqlite", "memory"] = Field(
        "sqlite", description="sqlite: durable (survives restarts and crashes); memory: not"
    )
    directory: str = Field(
        "data/buffer",
        description="where the SQLite files live, relative to this tag-map file; "
        "default: ./data/buffer of the working directory",
    )
    max_lines: int = Field(10_000_000, ge=1, description="lines held per sink at most")
    max_bytes: int = Field(2 * 1024**3, ge=1024, description="bytes held per sink at most")
    max_age: Duration | None = Field(
        None, gt=0, description="drop lines older than this (default: no age limit)"
    )
    when_full: Literal["drop_oldest", "drop_newest"] = Field(
        "drop_oldest", description="which lines go when a limit is reached (counted, logged)"
    )
    commit_interval: Duration = Field(
        0.5,
        ge=0,
        description="seconds between commits of new lines to disk: the most a SIGKILL can "
        "lose; 0 commits every scan before the next one starts",
    )
    fsync: bool = Field(False, description="also survive power loss (slower commits)")
    drain_timeout: Duration = Field(
        10.0, gt=0, description="on SIGTERM, how long to keep writing before exiting"
    )


class HealthConfig(Strict):
    """HTTP endpoint with /healthz, /readyz and /metrics, and the gateway's own statistics."""

    listen: str = Field("127.0.0.1", description="address of the endpoint")
    port: int = Field(9273, ge=0, le=65535, description="0 disables the endpoint")
    stats_interval: Duration | None = Field(
        10.0, gt=0, description="write measurement `gateway_stats` this often (null: never)"
    )


class RunConfig(Strict):
    """How `gateway run` runs: how many worker processes share the connections."""

    workers: int = Field(
        1,
        ge=1,
        le=256,
        description="processes that share the connections (one per core); 1: the gateway "
        "is one process; `--workers` overrides it",
    )


class TagMapFile(Strict):
    """One tag-map file: devices, and optionally the sinks, buffer, health and run sections
    (each in at most one file)."""

    #: each validated by the model of its `protocol` (the loader, and the schema's union)
    devices: list[DeviceFields] = Field(default_factory=list)
    sinks: SinksConfig | None = None
    buffer: BufferConfig | None = None
    health: HealthConfig | None = None
    run: RunConfig | None = None
