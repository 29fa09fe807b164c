"""Batch sizes of browse's service calls."""

from __future__ import annotations

from gateway.collectors.opcua.browsecalls import UNLIMITED_BATCH, chunks


def test_a_server_limit_sets_the_batch_and_no_limit_still_bounds_a_request():
    assert [len(c) for c in chunks(list(range(7)), 3)] == [3, 3, 1]
    assert [len(c) for c in chunks(list(range(2 * UNLIMITED_BATCH + 5)), 0)] == [
        UNLIMITED_BATCH,
        UNLIMITED_BATCH,
        5,
    ]
    assert chunks([], 0) == []
