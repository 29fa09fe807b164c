"""Deleting acknowledged rows of the durable buffer, and what to do when that fails.

Deleting needs space too (the WAL grows): on a full disk the rows are only marked as
acknowledged (`marked`: every row up to that id), skipped by reads and deleted by the next
transaction that works. One WARNING per failing episode, INFO when deleting works again.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3

from gateway.buffer.sqlitestore import Disk, SqliteStore

log = logging.getLogger("gateway.buffer.sqlite")  # one logger for the whole durable buffer

_UNDELETED = (
    "Buffer %s: deleting acknowledged lines failed (%s); they are skipped and deleted later "
    "(sent again only if the gateway stops before)."
)


class Deletes:
    """Acknowledged rows: deleted, or marked until a transaction can delete them."""

    def __init__(self, store: SqliteStore, name: str) -> None:
        self.store, self.name = store, name
        self.marked = 0  # rows up to this id are acknowledged but not deleted yet
        self._failing = False  # in a failing-delete episode (logged once)

    def defer(self, last: int) -> None:
        """Rows up to `last` are acknowledged: the next transaction deletes them (see
        SqliteBuffer._defer_delete)."""
        self.marked = max(self.marked, last)

    async def acknowledge(
        self, disk: Disk, first: int, last: int, known: tuple[int, int] | None
    ) -> Disk:
        """The rows left once `first`..`last` are acknowledged (`known`: their lines and
        bytes, see SqliteStore.delete). Raises when they can be neither deleted nor marked."""
        store, marked = self.store, self.marked
        try:
            after = await asyncio.to_thread(store.delete, disk, first, last, marked, known)
        except sqlite3.Error as exc:
            # a full disk: mark them instead (reading needs no space), delete them later
            marking = await asyncio.to_thread(store.mark, disk, first, last, marked)
            if marking is None:
                raise
            self.marked = max(last, marked)
            if not self._failing:
                log.warning(_UNDELETED, self.name, exc)
                self._failing = True
            return marking
        self.marked = 0
        if self._failing:
            log.info("Buffer %s: deleting acknowledged lines works again.", self.name)
            self._failing = False
        return after
