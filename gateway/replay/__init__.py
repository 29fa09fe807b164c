"""`gateway replay`: recorded line protocol back into InfluxDB or a configured sink.

lines.py (validate, diagnose, shift, precision: pure), reading.py (files, lines with byte
offsets, the shift), pacing.py (`--speed`), progress.py (bar or log lines), state.py (the
resumable state), sending.py (retries through the forwarder's batch writer), engine.py (the
loop), setup.py (sinks, precisions, state before the first line), command.py (the CLI).
"""
