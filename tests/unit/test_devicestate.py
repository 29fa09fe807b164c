"""Device health: demotion after repeated failures, doubling, recovery."""

from gateway.collectors.devicestate import DeviceHealth, State


def test_demoted_after_n_failures_with_doubling_window():
    health = DeviceHealth(demote_after=3, demote_max=4.0)
    assert health.record(False, 0.0) is State.DOWN
    assert health.record(False, 1.0) is State.DOWN
    assert health.record(False, 2.0) is State.DEMOTED  # third failure in a row
    assert health.demoted(2.5)
    assert not health.demoted(3.0)  # 1 s window
    assert health.record(False, 3.0) is State.DEMOTED
    assert health.demoted(4.9)
    assert not health.demoted(5.0)  # 2 s window
    health.record(False, 5.0)  # 4 s window
    health.record(False, 9.0)  # capped at demote_max = 4 s
    assert health.demoted(12.9)
    assert not health.demoted(13.0)


def test_an_answer_resets_everything():
    health = DeviceHealth(demote_after=2)
    health.record(False, 0.0)
    health.record(False, 0.0)
    assert health.record(True, 1.0) is State.UP
    assert not health.demoted(1.0)
    assert health.record(False, 2.0) is State.DOWN  # counting starts again


def test_demotion_can_be_disabled():
    health = DeviceHealth(demote_after=0)
    for t in range(10):
        assert health.record(False, float(t)) is State.DOWN
    assert not health.demoted(5.0)
