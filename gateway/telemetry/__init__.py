"""Telemetry: logging configuration (metrics and health endpoints come with the runtime)."""
