"""Modbus collector: planner (pure), codec (pure), collector (I/O)."""
