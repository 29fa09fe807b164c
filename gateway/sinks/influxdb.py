"""A sink that writes lines to the InfluxDB v2 write API (/api/v2/write) with aiohttp.

The request is one POST, so the sink makes it itself rather than through influxdb-client,
whose generated API, dateutil and reactivex cost ~13 MB of memory in every running gateway.

Anything that speaks that API works: InfluxDB 2.x, InfluxDB 3, VictoriaMetrics, Telegraf's
influxdb_v2_listener. The sink only sends and classifies errors; see README.md for the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import gzip
import json
from collections.abc import Mapping, Sequence

import aiohttp

from gateway.errors import (
    GatewayError,
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    SinkError,
    ThrottledSinkError,
)
from gateway.sinks.lineprotocol import Precision

__all__ = ["InfluxDBSink", "classify_status", "parse_retry_after"]

#: gzip level of request bodies: the fastest. On plant-like lines (float32 values, their
#: quality fields) level 1 costs ~0.4 us of CPU per sample and keeps ~31 % of the bytes;
#: level 9, what influxdb-client uses, ~4 us (more than the rest of the gateway) for ~22 %.
GZIP_LEVEL = 1
#: bodies at least this large are compressed in a thread (zlib releases the GIL), so a big
#: batch does not hold up the scans on the event loop
THREAD_BYTES = 64 * 1024

# Network-level failures: the server may be down, restarting or unreachable. Note that
# aiohttp's ClientConnectorError (connection refused, DNS failure) is both a ClientError and
# an OSError, and that asyncio.TimeoutError is the builtin TimeoutError (an OSError) here.
_NETWORK_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    Returns None when the header is absent or cannot be parsed; a date in the past gives 0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC per RFC 5322
        when = when.replace(tzinfo=dt.UTC)
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def classify_status(
    status: int | None,
    detail: str,
    headers: Mapping[str, str] | None = None,
    name: str = "influxdb",
) -> SinkError:
    """The SinkError for an HTTP error status answered by the write API."""
    where = f"{name}: HTTP {status}"
    if status in (429, 503):
        retry_after = parse_retry_after(headers.get("Retry-After") if headers else None)
        return ThrottledSinkError(f"{where} (throttled): {detail}", retry_after)
    if status == 413:
        return PayloadTooLargeError(f"{where} (payload too large): {detail}")
    if status in (400, 422):
        return RejectedSinkError(f"{where} (data rejected): {detail}", status=status)
    if status in (401, 403):
        return RetryableSinkError(
            f"{where}: not authorized; fix the token (INFLUXDB_V2_TOKEN) or its write "
            f"permission on the bucket; retrying until then: {detail}"
        )
    if status == 404:
        return RetryableSinkError(
            f"{where}: not found; check the URL, org and bucket; retrying until then: {detail}"
        )
    return RetryableSinkError(f"{where}: {detail}")


class InfluxDBSink:
    """Write lines to the InfluxDB v2 write API.

    `url`, `token`, `org`, `bucket` as for InfluxDB 2 (INFLUXDB_V2_URL, ..._TOKEN, ..._ORG,
    ..._BUCKET); `precision` must match the precision the lines were encoded with; `gzip`
    compresses request bodies; `timeout_s` bounds each whole request.
    """

    def __init__(
        self,
        url: str,
        token: str,
        org: str,
        bucket: str,
        precision: Precision = Precision.MS,
        gzip: bool = True,
        timeout_s: float = 10.0,
        name: str = "influxdb",
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self.name = name
        self.url = url
        self.org = org
        self.bucket = bucket
        self.precision = Precision(precision)
        self.gzip = gzip
        self.timeout_s = timeout_s
        self._token = token
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # never show the token
        return (
            f"InfluxDBSink(name={self.name!r}, url={self.url!r}, org={self.org!r}, "
            f"bucket={self.bucket!r})"
        )

    async def start(self) -> None:
        """Create the HTTP session. Connects lazily, on the first write.
        Without an org InfluxDB 2 refuses every write (400), so the sink does not start."""
        if not self.org:
            raise GatewayError(f"{self.name}: no org set (INFLUXDB_V2_ORG or sinks.influxdb.org)")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Token {self._token}"},
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )

    async def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return  # an empty body, which InfluxDB answers with 400
        if self._session is None:
            await self.start()
        assert self._session is not None
        body = "\n".join(lines).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            if len(body) >= THREAD_BYTES:
                body = await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL)
            else:
                body = gzip.compress(body, GZIP_LEVEL)
            headers["Content-Encoding"] = "gzip"
        query = {"org": self.org, "bucket": self.bucket, "precision": self.precision.value}
        try:
            async with self._session.post(
                self.url.rstrip("/") + "/api/v2/write", params=query, data=body, headers=headers
            ) as response:
                status = response.status
                answer = await response.read() if status >= 300 else b""
        except _NETWORK_ERRORS as exc:
            detail = str(exc)
            if isinstance(exc, TimeoutError):  # aiohttp's total timeout has an empty message
                detail = detail or f"no complete answer within {self.timeout_s:g} s"
            raise RetryableSinkError(
                f"{self.name}: cannot reach {self.url}: {type(exc).__name__}: {detail}"
            ) from exc
        if status >= 300:
            detail = _detail(answer, response.headers, response.reason)
            raise classify_status(status, detail, response.headers, self.name)
        if status not in (201, 204):
            # A 2xx other than 204/201: something that is not the write API answered.
            raise RetryableSinkError(
                f"{self.name}: unexpected success status from {self.url}; is it the InfluxDB "
                f"v2 write API? the batch is kept"
            )

    async def close(self) -> None:
        """Close the HTTP session; safe to call twice or without start()."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _detail(body: bytes, headers: Mapping[str, str], reason: str | None) -> str:
    """A short, single-line description of an HTTP error: the server's message (InfluxDB's
    JSON `message`, the body, an error header) or the reason phrase."""
    text = body.decode("utf-8", "replace")
    if text:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            text = str(json.loads(text)["message"])
    else:
        errors = ("X-Platform-Error-Code", "X-Influx-Error", "X-InfluxDb-Error")
        text = next((headers[h] for h in errors if h in headers), reason or "")
    text = " ".join(text.split())
    return text[:500] + ("..." if len(text) > 500 else "")
