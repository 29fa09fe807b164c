"""Choose the sinks: the `sinks:` section, else InfluxDB from the environment, else files."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from gateway.config.models import FileSinkConfig, InfluxDBSinkConfig, SinksConfig
from gateway.errors import ConfigError, Problem
from gateway.sinks.base import Sink
from gateway.sinks.file import FileSink
from gateway.sinks.influxdb import InfluxDBSink
from gateway.sinks.lineprotocol import Precision
from gateway.sinks.stdout import StdoutSink

ENV = {
    "url": "INFLUXDB_V2_URL",
    "token": "INFLUXDB_V2_TOKEN",
    "org": "INFLUXDB_V2_ORG",
    "bucket": "INFLUXDB_V2_BUCKET",
}


def effective_sinks(config: SinksConfig | None, env: Mapping[str, str]) -> SinksConfig:
    """The sinks section with the documented defaults filled in."""
    config = config or SinksConfig()
    if config.influxdb or config.file or config.stdout:
        return config
    if env.get(ENV["url"]):
        return config.model_copy(update={"influxdb": InfluxDBSinkConfig()})
    return config.model_copy(update={"file": FileSinkConfig()})


def influx_settings(cfg: InfluxDBSinkConfig, env: Mapping[str, str]) -> dict[str, str]:
    """url, token, org, bucket: from the section, else the environment; all required."""
    values = {key: _plain(getattr(cfg, key)) or env.get(name, "") for key, name in ENV.items()}
    if cfg.token_file and not cfg.token:
        try:
            values["token"] = Path(cfg.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError([Problem("sinks", None, "influxdb.token_file", str(exc))]) from None
    missing = [
        Problem("sinks", None, f"influxdb.{key}", f"not set (set it here or in {ENV[key]})")
        for key in ("url", "bucket")
        if not values[key]
    ]
    if missing:
        raise ConfigError(missing)
    if not values["url"].startswith(("http://", "https://")):
        raise ConfigError(
            [
                Problem(
                    "sinks",
                    None,
                    "influxdb.url",
                    f"{values['url']!r} is not an http:// or https:// URL",
                )
            ]
        )
    return values


def _plain(value: str | SecretStr | None) -> str | None:
    """The token is held as a SecretStr (never in a repr or log); the client needs the text."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def build_sinks(config: SinksConfig | None, env: Mapping[str, str] | None = None) -> list[Sink]:
    """Instantiate every configured sink (not started)."""
    env = os.environ if env is None else env
    cfg = effective_sinks(config, env)
    precision = Precision(cfg.precision)
    sinks: list[Sink] = []
    if cfg.influxdb:
        values = influx_settings(cfg.influxdb, env)
        sinks.append(
            InfluxDBSink(
                values["url"],
                values["token"],
                values["org"],
                values["bucket"],
                precision=precision,
                gzip=cfg.influxdb.gzip,
                timeout_s=cfg.influxdb.timeout,
            )
        )
    if cfg.file:
        f = cfg.file
        sinks.append(FileSink(f.directory, prefix=f.prefix, max_bytes=f.max_bytes, keep=f.keep))
    if cfg.stdout:
        sinks.append(StdoutSink())
    return sinks
