"""A sink that writes lines to the InfluxDB v2 write API (/api/v2/write) with influxdb-client.

Each write runs influxdb-client's (urllib3) write service in a worker thread, off the event
loop: its async client would need aiohttp, about 10 MB more memory in every gateway for the
same requests (a 100,000-tag gateway is measured against 150 MB).

Anything that speaks that API works: InfluxDB 2.x, InfluxDB 3, VictoriaMetrics, Telegraf's
influxdb_v2_listener. The sink only sends and classifies errors; see README.md for the table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import gzip
from collections.abc import Mapping, Sequence

import urllib3
from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService

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

# Network-level failures: the server may be down, restarting or unreachable. urllib3 raises
# its own errors (retries are off: the forwarder retries), with the socket's OSError as cause.
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError)


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
        self._client: InfluxDBClient | None = None
        self._service: WriteService | None = None

    def __repr__(self) -> str:  # never show the token
        return (
            f"InfluxDBSink(name={self.name!r}, url={self.url!r}, org={self.org!r}, "
            f"bucket={self.bucket!r})"
        )

    async def start(self) -> None:
        """Create the client (and its connection pool). Connects lazily, on the first write.
        Without an org InfluxDB 2 refuses every write (400), so the sink does not start."""
        if not self.org:
            raise GatewayError(f"{self.name}: no org set (INFLUXDB_V2_ORG or sinks.influxdb.org)")
        if self._client is None:
            self._client = InfluxDBClient(
                url=self.url,
                token=self._token,
                org=self.org,
                timeout=self.timeout_s * 1000,  # the client takes milliseconds
                enable_gzip=False,  # the sink compresses itself, faster (GZIP_LEVEL)
            )
            # the write service under the client's write API: it takes the body as bytes,
            # built once here, where the write API would re-encode and re-join it
            self._service = WriteService(self._client.api_client)

    async def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return  # the client would POST an empty body, which InfluxDB answers with 400
        if self._service is None:
            await self.start()
        assert self._service is not None
        body = "\n".join(lines).encode()
        try:
            status = await asyncio.to_thread(self._post, self._service, body)
        except ApiException as exc:
            detail = _detail(exc)
            if not exc.status:  # the client's own: a TLS failure, no HTTP answer at all
                reason = " ".join(str(exc.reason or detail).split())
                raise RetryableSinkError(f"{self.name}: cannot reach {self.url}: {reason}") from exc
            raise classify_status(exc.status, detail, exc.headers, self.name) from exc
        except _NETWORK_ERRORS as exc:
            raise RetryableSinkError(
                f"{self.name}: cannot reach {self.url}: {_network_detail(exc, self.timeout_s)}"
            ) from _os_error(exc)
        if status not in (201, 204):
            # A 2xx other than 204/201: something that is not the write API answered.
            raise RetryableSinkError(
                f"{self.name}: unexpected success status from {self.url}; is it the InfluxDB "
                f"v2 write API? the batch is kept"
            )

    def _post(self, service: WriteService, body: bytes) -> int:
        """POST one body (compressed here, in the write's thread); the HTTP status."""
        extra = {}
        if self.gzip:
            body = gzip.compress(body, GZIP_LEVEL)
            extra["content_encoding"] = "gzip"
        _, status, _ = service.post_write_with_http_info(
            org=self.org,
            bucket=self.bucket,
            body=body,
            precision=self.precision.value,
            _return_http_data_only=False,
            content_type="text/plain; charset=utf-8",
            **extra,
        )
        return int(status)

    async def close(self) -> None:
        """Close the client and its connections; safe to call twice or without start()."""
        client, self._client, self._service = self._client, None, None
        if client is not None:
            client.close()


def _network_detail(exc: BaseException, timeout_s: float) -> str:
    """`Type: message` of a network failure; a timeout says the time it waited."""
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError) and not isinstance(
        exc, urllib3.exceptions.NewConnectionError
    ):
        return f"TimeoutError: no complete answer within {timeout_s:g} s"
    return f"{type(exc).__name__}: {exc}"


def _os_error(exc: BaseException) -> BaseException:
    """The socket's OSError under a urllib3 error (its cause), else the error itself."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


def _detail(exc: ApiException) -> str:
    """A short, single-line description of an HTTP error: the server's message or reason."""
    message = getattr(exc, "message", None) or exc.reason or ""
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = " ".join(str(message).split())
    return text[:500] + ("..." if len(text) > 500 else "")
