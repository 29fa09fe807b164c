"""Ending a collector's task in a test: cancel it and wait for it with a generous deadline,
so that a task that does not stop fails the test naming it instead of hanging the run."""

from __future__ import annotations

import asyncio


async def cancel_and_wait(task: asyncio.Task[None], what: str, seconds: float = 10.0) -> None:
    """Cancel `task` and wait until it ended; AssertionError naming `what` if it did not."""
    task.cancel()
    await ended(task, what, seconds)


async def ended(task: asyncio.Task[None], what: str, seconds: float = 10.0) -> None:
    """Wait until `task` ended; AssertionError naming `what` if it still runs after
    `seconds` (it is cancelled again then, so that the test's clean-up can run)."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        await asyncio.wait({task}, timeout=seconds)
        raise AssertionError(f"{what} did not stop within {seconds:g} s of its cancel")
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
