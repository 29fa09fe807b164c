"""Choose the sinks: the `sinks:` section, else InfluxDB from the environment, else files."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from gateway.config.models import FileSinkConfig, InfluxDBSinkConfig, SinksConfig
from gateway.errors import ConfigError, Problem
from gateway.sinks.base import Sink
from gateway.sinks.file import FileSink
from gateway.sinks.lineprotocol import Precision
from gateway.sinks.stdout import StdoutSink

Where = tuple[str, int | None]  # file and line

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


def influx_settings(
    cfg: InfluxDBSinkConfig, env: Mapping[str, str], where: Where | None = None
) -> dict[str, str]:
    """url, token, org, bucket: from the section, else the environment; url, org and bucket
    are required (InfluxDB 2 refuses every write without an org). `where`: the file and line
    of the `sinks:` section, for the errors."""
    values = {key: _plain(getattr(cfg, key)) or env.get(name, "") for key, name in ENV.items()}
    file, line = where or ("sinks", None)
    path = "sinks.influxdb" if where else "influxdb"
    if cfg.token_file and not cfg.token:
        try:
            values["token"] = Path(cfg.token_file).read_text().strip()
        except OSError as exc:
            raise ConfigError([Problem(file, line, f"{path}.token_file", str(exc))]) from None
    problems = [
        Problem(file, line, f"{path}.{key}", f"not set (set it here or in {ENV[key]})")
        for key in ("url", "org", "bucket")
        if not values[key]
    ]
    if values["url"] and not values["url"].startswith(("http://", "https://")):
        message = f"{values['url']!r} is not an http:// or https:// URL"
        problems.append(Problem(file, line, f"{path}.url", message))
    if problems:
        raise ConfigError(problems)
    return values


def _plain(value: str | SecretStr | None) -> str | None:
    """The token is held as a SecretStr (never in a repr or log); the client needs the text."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def build_sinks(
    config: SinksConfig | None,
    env: Mapping[str, str] | None = None,
    where: Where | None = None,
) -> list[Sink]:
    """Instantiate every configured sink (not started); `where` locates the `sinks:` section."""
    env = os.environ if env is None else env
    cfg = effective_sinks(config, env)
    precision = Precision(cfg.precision)
    sinks: list[Sink] = []
    if cfg.influxdb:
        from gateway.sinks.influxdb import InfluxDBSink  # its HTTP client only when used

        values = influx_settings(cfg.influxdb, env, where if config and config.influxdb else None)
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


def describe_sink(sink: Sink) -> str:
    """Where a sink writes, for the start-up log: never the token (nor URL credentials)."""
    influx = sys.modules.get("gateway.sinks.influxdb")  # imported when one is configured
    if influx is not None and isinstance(sink, influx.InfluxDBSink):
        return (
            f"sink {sink.name}: InfluxDB {_without_credentials(sink.url)}, org {sink.org!r}, "
            f"bucket {sink.bucket!r} (precision {sink.precision.value})"
        )
    if isinstance(sink, FileSink):
        return (
            f"sink {sink.name}: line-protocol files {sink.path} "
            f"(rotated at {sink.max_bytes} bytes, {sink.keep} kept)"
        )
    if isinstance(sink, StdoutSink):
        return f"sink {sink.name}: standard output"
    return f"sink {sink.name}: {type(sink).__name__}"


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
