"""Fixed-rate schedules: no drift, late scans skipped and counted."""

from gateway.collectors.schedule import FixedRate


def test_on_time_scans_keep_the_grid_without_drift():
    rate = FixedRate(interval=1.0, next_due=100.0)
    late = 0
    for n in range(1, 1001):
        # each scan finishes 0.3 s after it was due: the next is still due on the grid
        late += rate.advance(rate.next_due + 0.3)
        assert rate.next_due == 100.0 + n
    assert late == 0


def test_an_overrun_skips_the_missed_slots_instead_of_queueing_them():
    rate = FixedRate(interval=1.0, next_due=10.0)
    # the scan due at 10.0 ended at 12.5: slots 11 and 12 were missed; next due is 13.0
    assert rate.advance(12.5) == 2
    assert rate.next_due == 13.0


def test_finishing_exactly_on_the_next_slot_is_not_late():
    rate = FixedRate(interval=0.5, next_due=1.0)
    assert rate.advance(1.5) == 0
    assert rate.next_due == 1.5
