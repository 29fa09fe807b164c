"""Upkeep of the asyncua server of the OPC UA PLC: its CurrentTime clock (a task that stops at
once, unlike asyncua's own) and quiet log levels."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime

from asyncua import Server, ua

from simulators.opcua_nodes import nid


async def tick_current_time(server: Server) -> None:
    """Keep Server/ServerStatus/CurrentTime moving (once a second), cancellable at once."""
    status_node = server.get_node(nid(ua.ObjectIds.Server_ServerStatus))
    time_node = server.get_node(nid(ua.ObjectIds.Server_ServerStatus_CurrentTime))
    while True:
        now = datetime.now(UTC)
        status: ua.ServerStatusDataType = await status_node.read_value()
        await status_node.write_value(dataclasses.replace(status, CurrentTime=now))
        await time_node.write_value(now)
        await asyncio.sleep(1.0)


def quiet_asyncua() -> None:
    """asyncua logs every request at INFO and routine things at WARNING, and every Bad answer
    to a client (routine here: a dropped session's reactivation attempt) at ERROR. Keep it
    to errors, and service-fault answers to critical, unless the application configured
    those loggers itself."""
    for name, level in (
        ("asyncua", logging.ERROR),
        ("asyncua.server.uaprocessor", logging.CRITICAL),
    ):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(level)
