"""Collectors: one per protocol. Each reads devices and emits Samples."""
