"""Subscriptions and monitored items, created in batches, delivered as one batch per publish.

The server's answers arrive as raw `PublishResult`s on asyncua's session publish loop; this
module registers its own callback there instead of going through `asyncua.Subscription`,
which builds a `DataChangeNotif` and schedules a task for every single value. Each monitored
item's ClientHandle is its index in the caller's item list, so one publish response becomes
one list of `(index, DataValue)` without a lookup per value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from asyncua import Client, ua

from gateway.collectors.opcua.limits import read_limits

log = logging.getLogger(__name__)

Batch = list[tuple[int, ua.DataValue]]
OnData = Callable[[Batch], None]
OnStatus = Callable[[ua.StatusCode], None]


@dataclass(frozen=True, slots=True)
class Deadband:
    """A data-change filter: `absolute` in the value's unit, `percent` of the node's EURange."""

    kind: Literal["absolute", "percent"]
    value: float


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One monitored item; intervals in milliseconds (0 = as fast as the server offers)."""

    node_id: ua.NodeId
    sampling_interval: float
    queue_size: int = 1
    discard_oldest: bool = True
    deadband: Deadband | None = None


@dataclass(frozen=True, slots=True)
class ItemFailure:
    """A monitored item the server refused: its index in the item list and the status name."""

    index: int
    status: str


@dataclass
class SubscriptionSet:
    """What `subscribe` created on one session."""

    client: Client
    subscription_ids: list[int] = field(default_factory=list)
    revised_publishing_interval: float = 0.0  # ms
    revised_keepalive_count: int = 0
    failures: list[ItemFailure] = field(default_factory=list)
    create_calls: int = 0
    # Monotonic time of the last publish response (keep-alives included), for watchdogs.
    last_publish: float = field(default_factory=time.monotonic)

    @property
    def max_silence(self) -> float:
        """Seconds without any publish response (data or keep-alive) after which the
        subscriptions are dead: twice the server's revised keep-alive period."""
        return 2 * self.revised_publishing_interval * max(self.revised_keepalive_count, 1) / 1000

    async def delete(self) -> None:
        """Delete the subscriptions on the server; errors are ignored (the session may be gone)."""
        ids, self.subscription_ids = self.subscription_ids, []
        if not ids:
            return
        try:
            await self.client.uaclient.session.delete_subscriptions(ids)
        except Exception as exc:  # a dead session has deleted them anyway
            log.debug("delete_subscriptions %s failed: %r", ids, exc)


async def read_max_monitored_items_per_call(client: Client) -> int | None:
    """The server's OperationLimits/MaxMonitoredItemsPerCall; None when absent, bad or 0."""
    return (await read_limits(client)).max_monitored_items_per_call or None


def _filter(deadband: Deadband | None) -> ua.DataChangeFilter | None:
    if deadband is None:
        return None
    kind = ua.DeadbandType.Absolute if deadband.kind == "absolute" else ua.DeadbandType.Percent
    return ua.DataChangeFilter(
        Trigger=ua.DataChangeTrigger.StatusValue, DeadbandType=kind, DeadbandValue=deadband.value
    )


def _request(index: int, item: ItemSpec) -> ua.MonitoredItemCreateRequest:
    params = ua.MonitoringParameters(
        ClientHandle=index,
        SamplingInterval=item.sampling_interval,
        QueueSize=item.queue_size,
        DiscardOldest=item.discard_oldest,
    )
    mfilter = _filter(item.deadband)
    if mfilter is not None:
        params.Filter = mfilter
    return ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=item.node_id, AttributeId=ua.AttributeIds.Value),
        MonitoringMode=ua.MonitoringMode.Reporting,
        RequestedParameters=params,
    )


def _publish_callback(
    subs: SubscriptionSet, on_data: OnData, on_status: OnStatus | None
) -> Callable[[ua.PublishResult], None]:
    data_change = ua.DataChangeNotification
    status_change = ua.StatusChangeNotification

    def publish(result: ua.PublishResult) -> None:
        subs.last_publish = time.monotonic()
        notifications = result.NotificationMessage.NotificationData
        if not notifications:
            return  # keep-alive
        for notification in notifications:
            if type(notification) is data_change:
                batch = [(m.ClientHandle, m.Value) for m in notification.MonitoredItems]
                if batch:
                    on_data(batch)
            elif type(notification) is status_change and on_status is not None:
                # BadTimeout: the server dropped the subscription; BadShutdown: asyncua lost it.
                on_status(notification.Status)

    return publish


async def _create_subscription(
    client: Client,
    subs: SubscriptionSet,
    interval: float,
    keepalive: float,
    publish: Callable[[ua.PublishResult], None],
) -> int:
    # A keep-alive every `keepalive` s when nothing changes, so silence means a dead link.
    keepalive_count = max(1, math.ceil(keepalive * 1000 / interval)) if interval > 0 else 0
    params = ua.CreateSubscriptionParameters(
        RequestedPublishingInterval=interval,
        RequestedLifetimeCount=max(10000, 3 * keepalive_count),  # the spec wants >= 3x
        RequestedMaxKeepAliveCount=keepalive_count,
        MaxNotificationsPerPublish=0,  # 0 = no limit: one response carries a whole cycle
        PublishingEnabled=True,
        Priority=0,
    )
    result = await client.uaclient.session.create_subscription(params, callback=publish)
    subs.subscription_ids.append(result.SubscriptionId)
    subs.revised_publishing_interval = result.RevisedPublishingInterval
    subs.revised_keepalive_count = result.RevisedMaxKeepAliveCount
    return int(result.SubscriptionId)


async def subscribe(
    client: Client,
    items: Sequence[ItemSpec],
    publishing_interval: float,
    on_data: OnData,
    *,
    on_status: OnStatus | None = None,
    keepalive: float = 5.0,
    max_items_per_subscription: int | None = None,
    max_items_per_call: int | None = None,
) -> SubscriptionSet:
    """Create subscriptions for `items` on a connected client and start delivering changes.

    `on_data` is called synchronously on asyncua's publish loop with one list of
    `(index into items, DataValue)` per DataChangeNotification (a whole publish cycle), so
    it must be cheap and must not block. `on_status` gets subscription-level status
    changes (BadTimeout when the server dropped the subscription). Monitored items are
    created `max_items_per_call` at a time (default: the server's MaxMonitoredItemsPerCall,
    no limit when it has none); several subscriptions are created only when
    `max_items_per_subscription` is given. The server is asked for a keep-alive every
    `keepalive` seconds without changes; watch `last_publish` against `max_silence`
    (`SessionSupervisor.watch_silence`) to catch subscriptions that died. A refused item
    is listed in `failures` and the others keep working; a refused service call (the
    session is gone) raises `ua.UaStatusCodeError` / `ConnectionError`.
    """
    subs = SubscriptionSet(client)
    if not items:
        return subs
    per_call = max_items_per_call or await read_max_monitored_items_per_call(client) or len(items)
    per_sub = max_items_per_subscription or len(items)
    publish = _publish_callback(subs, on_data, on_status)
    session = client.uaclient.session
    for first in range(0, len(items), per_sub):
        sub_id = await _create_subscription(client, subs, publishing_interval, keepalive, publish)
        last = min(first + per_sub, len(items))
        for start in range(first, last, per_call):
            stop = min(start + per_call, last)
            params = ua.CreateMonitoredItemsParameters(
                SubscriptionId=sub_id,
                TimestampsToReturn=ua.TimestampsToReturn.Both,
                ItemsToCreate=[_request(i, items[i]) for i in range(start, stop)],
            )
            results = await session.create_monitored_items(params)
            subs.create_calls += 1
            for offset, result in enumerate(results):
                if not result.StatusCode.is_good():
                    subs.failures.append(ItemFailure(start + offset, result.StatusCode.name))
    if subs.failures:  # the caller reports them per item; this is for the debug log
        log.info(
            "%d of %d monitored items refused (first: item %d, %s)",
            len(subs.failures),
            len(items),
            subs.failures[0].index,
            subs.failures[0].status,
        )
    return subs
