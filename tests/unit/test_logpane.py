"""While the live view runs on a terminal, the log goes into it (a redraw would wipe it)."""

from __future__ import annotations

import io
import logging

from gateway.telemetry.logpane import LogPane, logs_into


def test_the_log_goes_into_the_pane_while_the_view_runs_and_back_after() -> None:
    terminal, elsewhere = io.StringIO(), io.StringIO()
    to_terminal, to_file = logging.StreamHandler(terminal), logging.StreamHandler(elsewhere)
    root, log = logging.getLogger(), logging.getLogger("t.logpane")
    root.addHandler(to_terminal)
    root.addHandler(to_file)
    pane = LogPane(keep=2)
    try:
        with logs_into(pane, terminal):
            log.warning("lost\nconnection")
            log.info("connected")  # below WARNING: not kept
            log.error("a")
            log.error("b")
        log.warning("after")
    finally:
        root.removeHandler(to_terminal)
        root.removeHandler(to_file)
    assert [line.split(" ", 1)[1] for line in pane.latest()] == [
        "ERROR t.logpane: a",
        "ERROR t.logpane: b",
    ]
    assert terminal.getvalue() == "after\n"  # the terminal's handler is back
    assert elsewhere.getvalue().splitlines() == ["lost", "connection", "a", "b", "after"]
    pane_only = LogPane()
    pane_only.handle(logging.makeLogRecord({"msg": "two\nlines", "levelno": 30}))
    assert pane_only.latest()[0].endswith("two lines")  # one line each
