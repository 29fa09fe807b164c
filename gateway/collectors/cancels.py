"""A cancel that a library dropped is still honoured.

On Python 3.11, `asyncio.wait_for` returns its future's result when the cancel of the task
awaiting it comes in the same turn of the loop as that result (fixed in 3.12): pymodbus
waits for every answer with it, so a collector cancelled as an answer arrives would read on
and never end, and whoever awaits it (a test, a shutdown without a stop event) would hang.
The task still counts the cancel (`Task.cancelling()`), so a polling loop checks it on
every turn.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError when the current task was cancelled and the cancel got lost."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
